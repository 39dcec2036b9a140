"""The admin API's spend queries against the table on the AWS emulation.

Items are written directly in the spend pipeline's layout (/work/notes/spend-layout.md):
ledger items with their four index entries, day report rows, aggregates and budget
period items. Checked: each filter and its index, inclusive date bounds, newest first,
paging with a cursor (every row once), 400s naming the parameter, the request id
lookup, master key only, the daily report per team and per model group, tags, and the
spend that /key, /team and /user info and list answers show (period or lifetime).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from conftest import MASTER_KEY
from gateway.schemas.records import KeyRecord, TeamRecord, UserRecord
from gateway.spend.periods import period_of
from gateway.store import table
from gateway.store.dynamo import encode_item
from gateway.store.keys import display_name, generate_key, hash_key
from keys import asgi_client, bearer, put

if TYPE_CHECKING:
    import httpx

    from conftest import GatewayTable

pytestmark = pytest.mark.anyio

MASTER = bearer(MASTER_KEY)
NOW = 1_767_225_600 + 12 * 3600  # 2026-01-01T12:00:00Z


@pytest.fixture
def app(gateway_env: object, gateway_table: GatewayTable):  # type: ignore[no-untyped-def]
    from gateway.http.app import create_admin_app

    admin = create_admin_app()
    admin.state.clock = lambda: float(NOW)
    return admin


# ---- items in the contract's layout ---------------------------------------------------


def ms(text: str) -> int:
    """Epoch ms of an ISO time in UTC ("2026-01-01T00:00:00.000")."""
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def ledger(request_id: str, start_ms: int, **fields: Any) -> dict[str, Any]:
    """A ledger item as the spend function writes it: SpendEvent fields, day, indexes."""
    item: dict[str, Any] = {
        "request_id": request_id,
        "start_ms": start_ms,
        "end_ms": start_ms + 1500,
        "status": "success",
        "status_code": 200,
        "api_key": "",
        "key_id": "",
        "model_group": "gpt-4o-mini",
        "requested_model": "gpt-4o-mini",
        "model": "gpt-4o-mini",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "spend_micros": 1000,
        "stream": False,
        "cache_hit": False,
        "usage_estimated": False,
        "attempts": 1,
        "billed_attempts": 1,
        "tags": [],
        **fields,
    }
    day = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC).date().isoformat()
    sort = f"{start_ms:013d}#{request_id}"
    item.update(pk=table.ledger_pk(request_id), sk=table.LEDGER_SK, day=day)
    item.update(gsi1pk=table.logs_pk(None, day), gsi1sk=sort)
    for index, scope, value in (
        ("gsi2", "team", item.get("team_id")),
        ("gsi3", "user", item.get("user_id")),
        ("gsi4", "key", item.get("api_key")),
    ):
        if value:
            item.update({f"{index}pk": table.logs_pk(scope, value), f"{index}sk": sort})
    return {k: v for k, v in item.items() if v is not None}


def report_row(day: str, team_id: str | None, model: str, **counters: int) -> dict[str, Any]:
    sk = f"T#{team_id or table.NO_TEAM}#{model}"
    row = {"pk": table.report_pk(day), "sk": sk, "model_group": model, "day": day, **counters}
    if team_id:
        row["team_id"] = team_id
    return row


def tag_row(day: str, tag: str, **counters: int) -> dict[str, Any]:
    return {"pk": table.report_pk(day), "sk": f"G#{tag}", "tag": tag, "day": day, **counters}


def write(gateway_table: GatewayTable, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": encode_item(i)}} for i in items[start : start + 25]]
        gateway_table.client.batch_write_item(RequestItems={gateway_table.name: requests})


def new_key(gateway_table: GatewayTable, key_id: str, **fields: Any) -> tuple[str, str]:
    """A key with a known key_id: (the key, its hash)."""
    key = generate_key()
    record = KeyRecord(
        token=hash_key(key), key_id=key_id, key_name=display_name(key), created_at=NOW, **fields
    )
    put(gateway_table, record)
    return key, record.token


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=MASTER)
    assert response.status_code == 200, response.text
    return response.json()


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["request_id"] for r in rows]


# ---- /spend/logs ----------------------------------------------------------------------


@pytest.fixture
def logs(gateway_table: GatewayTable) -> dict[str, str]:
    """Six requests over three days: two keys, two users, two teams, a master-key call."""
    key_a, hash_a = new_key(gateway_table, "ka")
    _, hash_b = new_key(gateway_table, "kb")
    base = ms("2025-12-30T10:00:00")
    rows = [
        ("r1", base, {"api_key": hash_a, "key_id": "ka", "user_id": "u1", "team_id": "t1"}),
        ("r2", base + 1, {"api_key": hash_b, "key_id": "kb", "user_id": "u2", "team_id": "t1"}),
        ("r3", base + 86_400_000, {"api_key": hash_a, "key_id": "ka", "user_id": "u1"}),
        ("r4", base + 86_400_000 + 5, {"api_key": hash_b, "key_id": "kb", "team_id": "t2"}),
        ("r5", base + 2 * 86_400_000, {"api_key": hash_a, "key_id": "ka", "team_id": "t1"}),
        ("r6", base + 2 * 86_400_000 + 7, {}),
    ]
    write(gateway_table, [ledger(rid, start, **fields) for rid, start, fields in rows])
    return {"key_a": key_a, "hash_a": hash_a, "hash_b": hash_b}


async def test_each_filter_reads_its_index_newest_first(app: object, logs: dict[str, str]) -> None:
    async with asgi_client(app) as client:
        by_key = await get(client, "/spend/logs", api_key=logs["key_a"])
        by_hash = await get(client, "/spend/logs", api_key=logs["hash_a"])
        by_user = await get(client, "/spend/logs", user_id="u1")
        by_team = await get(client, "/spend/logs", team_id="t1")
        key_and_team = await get(client, "/spend/logs", api_key=logs["hash_a"], team_id="t1")
        user_and_team = await get(client, "/spend/logs", user_id="u2", team_id="t2")
        everything = await get(client, "/spend/logs")  # the last 30 days of the day index
        unknown_key = await get(client, "/spend/logs", api_key="sk-gw-nobody")
        unknown_user = await get(client, "/spend/logs", user_id="nobody")
    assert ids(by_key) == ids(by_hash) == ["r5", "r3", "r1"]
    assert ids(by_user) == ["r3", "r1"]
    assert ids(by_team) == ["r5", "r2", "r1"]
    assert ids(key_and_team) == ["r5", "r1"]
    assert user_and_team == []
    assert ids(everything) == ["r6", "r5", "r4", "r3", "r2", "r1"]
    assert unknown_key == unknown_user == []


async def test_a_log_row_has_litellm_fields(app: object, gateway_table: GatewayTable) -> None:
    start = ms("2026-01-01T08:30:00.250")
    item = ledger(
        "req-shape",
        start,
        end_ms=start + 2000,
        ttft_ms=300,
        api_key="a" * 64,
        key_id="k",
        key_alias="ci",
        team_id="t",
        user_id="u",
        end_user="customer-7",
        model_group="claude",
        model="claude-3-5-haiku-20241022",
        model_id="dep-1",
        provider="anthropic",
        prompt_tokens=120,
        completion_tokens=30,
        cached_tokens=100,
        cache_write_tokens=4,
        reasoning_tokens=9,
        spend_micros=1_234_567,
        stream=True,
        cache_hit=True,
        attempts=2,
        billed_attempts=1,
        tags=["job:a", "env:prod"],
    )
    failed = ledger(
        "req-failed",
        start + 1,
        status="failure",
        status_code=429,
        error_code="rate_limit_exceeded",
        provider="openai",
        usage_estimated=True,
    )
    write(gateway_table, [item, failed])
    async with asgi_client(app) as client:
        row = (await get(client, "/spend/logs", request_id="req-shape"))[0]
        bad = (await get(client, "/spend/logs", request_id="req-failed"))[0]
    assert row == {
        "request_id": "req-shape",
        "call_type": "acompletion",
        "api_key": "a" * 64,
        "spend": 1.234567,
        "total_tokens": 150,
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "startTime": "2026-01-01T08:30:00.250Z",
        "endTime": "2026-01-01T08:30:02.250Z",
        "request_duration_ms": 2000,
        "completionStartTime": "2026-01-01T08:30:00.550Z",
        "model": "claude-3-5-haiku-20241022",
        "model_id": "dep-1",
        "model_group": "claude",
        "custom_llm_provider": "anthropic",
        "user": "u",
        "team_id": "t",
        "end_user": "customer-7",
        "metadata": {
            "user_api_key": "a" * 64,
            "user_api_key_alias": "ci",
            "user_api_key_team_id": "t",
            "user_api_key_user_id": "u",
            "status": "success",
            "error_information": None,
            "additional_usage_values": {
                "prompt_tokens_details": {"cached_tokens": 100},
                "completion_tokens_details": {"reasoning_tokens": 9},
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 4,
            },
            "requested_model": "gpt-4o-mini",
            "stream": True,
            "attempts": 2,
            "billed_attempts": 1,
            "usage_estimated": False,
        },
        "cache_hit": "True",
        "request_tags": ["job:a", "env:prod"],
        "status": "success",
    }
    assert (bad["status"], bad["cache_hit"], bad["user"], bad["team_id"]) == (
        "failure",
        "False",
        "",
        "",
    )
    assert bad["completionStartTime"] == bad["endTime"]  # no first token: LiteLLM's default
    assert bad["metadata"]["error_information"] == {
        "error_code": "429",
        "error_class": "rate_limit_exceeded",
        "llm_provider": "openai",
    }
    assert bad["metadata"]["usage_estimated"] is True


async def test_request_id_lookup_checks_the_other_filters(
    app: object, logs: dict[str, str]
) -> None:
    async with asgi_client(app) as client:
        found = await get(client, "/spend/logs", request_id="r3")
        same_user = await get(client, "/spend/logs", request_id="r3", user_id="u1")
        other_user = await get(client, "/spend/logs", request_id="r3", user_id="u2")
        other_day = await get(client, "/spend/logs", request_id="r3", end_date="2025-12-30")
        missing = await get(client, "/spend/logs", request_id="nope")
        paged = await get(client, "/spend/logs", request_id="r3", page_size=5)
    assert ids(found) == ids(same_user) == ["r3"]
    assert other_user == other_day == missing == []
    assert (ids(paged["data"]), paged["next_cursor"]) == (["r3"], None)


async def test_date_bounds_are_inclusive_utc_days(app: object, gateway_table: GatewayTable) -> None:
    edges = {
        "before": ms("2025-11-30T23:59:59.999"),
        "first": ms("2025-12-01T00:00:00.000"),
        "middle": ms("2025-12-01T12:00:00.000"),
        "last": ms("2025-12-02T23:59:59.999"),
        "after": ms("2025-12-03T00:00:00.000"),
    }
    write(gateway_table, [ledger(rid, at, user_id="u") for rid, at in edges.items()])
    dates = {"start_date": "2025-12-01", "end_date": "2025-12-02"}
    async with asgi_client(app) as client:
        by_day = await get(client, "/spend/logs", **dates)
        by_user = await get(client, "/spend/logs", user_id="u", **dates)
        one_day = await get(client, "/spend/logs", start_date="2025-12-01", end_date="2025-12-01")
        iso = await get(
            client,
            "/spend/logs",
            user_id="u",
            start_date="2025-12-01T12:00:00Z",
            end_date="2025-12-02T23:59:59.999+00:00",
        )
        offset = await get(
            client,
            "/spend/logs",
            start_date="2025-12-01T13:00:00+01:00",
            end_date="2025-12-01 12:00:00",  # LiteLLM's UI format, UTC
        )
        since = await get(client, "/spend/logs", user_id="u", start_date="2025-12-02")
        until = await get(client, "/spend/logs", user_id="u", end_date="2025-11-30")
    assert ids(by_day) == ids(by_user) == ["last", "middle", "first"]
    assert ids(one_day) == ["middle", "first"]
    assert ids(iso) == ["last", "middle"]
    assert ids(offset) == ["middle"]
    assert ids(since) == ["after", "last"]
    assert ids(until) == ["before"]


async def _pages(client: httpx.AsyncClient, size: int, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        extra = {} if cursor is None else {"cursor": cursor}
        page = await get(client, "/spend/logs", page_size=size, **params, **extra)
        assert page["page_size"] == size
        pages.append(ids(page["data"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


async def test_pages_cover_every_row_once(app: object, gateway_table: GatewayTable) -> None:
    base = ms("2025-12-10T00:00:00")
    items = []
    for i in range(23):  # over three days; every third in team t
        at = base + (i % 3) * 86_400_000 + i * 60_000
        team = "t" if i % 3 == 0 else "other"
        items.append(ledger(f"r{i:02d}", at, user_id="u", team_id=team))
    write(gateway_table, items)
    newest_first = [i["request_id"] for i in sorted(items, key=lambda i: -i["start_ms"])]
    in_team = [rid for rid in newest_first if int(rid[1:]) % 3 == 0]
    dates = {"start_date": "2025-12-09", "end_date": "2025-12-13"}
    async with asgi_client(app) as client:
        by_day = await _pages(client, 4, **dates)
        by_user = await _pages(client, 5, user_id="u")
        filtered = await _pages(client, 2, user_id="u", team_id="t")
        exact = await _pages(client, 23, user_id="u")
        listed = await get(client, "/spend/logs", **dates)
    assert [rid for page in by_day for rid in page] == newest_first
    assert all(len(page) == 4 for page in by_day[:-1])
    assert [rid for page in by_user for rid in page] == newest_first
    assert [rid for page in filtered for rid in page] == in_team
    assert exact == [newest_first]  # a full last page has no cursor to an empty one
    assert ids(listed) == newest_first


async def test_a_sparse_filter_pages_early_without_losing_rows(
    app: object, gateway_table: GatewayTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.http.admin import spend

    monkeypatch.setattr(spend, "MAX_EXAMINED", 4)
    base = ms("2025-12-20T00:00:00")
    items = [
        ledger(f"s{i:02d}", base + i, user_id="u", team_id="t" if i in (1, 9) else "x")
        for i in range(12)
    ]
    write(gateway_table, items)
    async with asgi_client(app) as client:
        pages = await _pages(client, 10, user_id="u", team_id="t")
        unpaged = await client.get(
            "/spend/logs", params={"user_id": "u", "team_id": "t"}, headers=MASTER
        )
    assert [rid for page in pages for rid in page] == ["s09", "s01"]
    assert len(pages) > 1  # each answer read at most 4 logs
    assert (unpaged.status_code, unpaged.json()["error"]["param"]) == (400, "page_size")


async def test_an_unpaged_list_is_bounded(
    app: object, gateway_table: GatewayTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.http.admin import spend

    monkeypatch.setattr(spend, "LIST_LIMIT", 3)
    base = ms("2025-12-20T00:00:00")
    write(gateway_table, [ledger(f"b{i}", base + i, user_id="u") for i in range(4)])
    async with asgi_client(app) as client:
        too_many = await client.get("/spend/logs", params={"user_id": "u"}, headers=MASTER)
        three = await get(client, "/spend/logs", user_id="u", end_date="2025-12-20T00:00:00.002Z")
    assert too_many.status_code == 400
    assert too_many.json()["error"]["param"] == "page_size"
    assert ids(three) == ["b2", "b1", "b0"]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"start_date": "2025-13-01"}, "start_date"),
        ({"end_date": "yesterday"}, "end_date"),
        ({"start_date": "2025-12-02", "end_date": "2025-12-01"}, "end_date"),
        ({"start_date": "2024-01-01", "end_date": "2025-12-31"}, "start_date"),
        ({"start_date": "1969-12-31T00:00:00Z", "user_id": "u"}, "start_date"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "1001"}, "page_size"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"cursor": "eyJwIjoxfQ"}, "cursor"),  # base64 JSON of the wrong shape
        ({"request_id": "r", "cursor": "x"}, "cursor"),
        ({"summarize": "true"}, "summarize"),
        ({"summarize": "maybe"}, "summarize"),
        ({"user_id": ""}, "user_id"),
        ({"model": "gpt-4o"}, "model"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    app: object, params: dict[str, str], param: str
) -> None:
    async with asgi_client(app) as client:
        response = await client.get("/spend/logs", params=params, headers=MASTER)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


async def test_a_cursor_works_only_for_its_own_listing(app: object, logs: dict[str, str]) -> None:
    async with asgi_client(app) as client:
        page = await get(client, "/spend/logs", user_id="u1", page_size=1)
        cursor = page["next_cursor"]
        same = await get(client, "/spend/logs", user_id="u1", page_size=1, cursor=cursor)
        other_user = await client.get(
            "/spend/logs", params={"user_id": "u2", "cursor": cursor}, headers=MASTER
        )
        other_index = await client.get(
            "/spend/logs", params={"api_key": logs["hash_a"], "cursor": cursor}, headers=MASTER
        )
        tampered = await client.get(
            "/spend/logs", params={"user_id": "u1", "cursor": cursor[:-3]}, headers=MASTER
        )
    assert (ids(page["data"]), ids(same["data"]), same["next_cursor"]) == (["r3"], ["r1"], None)
    for response in (other_user, other_index, tampered):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "cursor"


ROUTES = ["/spend/logs", "/spend/tags", "/global/spend/report"]


@pytest.mark.parametrize("path", ROUTES)
async def test_only_the_master_key_may_ask(
    app: object, gateway_table: GatewayTable, path: str
) -> None:
    key, _ = new_key(gateway_table, "k-authz")
    async with asgi_client(app) as client:
        virtual = await client.get(path, headers=bearer(key))
        nothing = await client.get(path)
        wrong = await client.get(path, headers=bearer("sk-gw-" + "x" * 43))
    assert (virtual.status_code, virtual.json()["error"]["code"]) == (403, "permission_denied")
    assert nothing.status_code == wrong.status_code == 401


# ---- reports --------------------------------------------------------------------------


@pytest.fixture
def report_rows(gateway_table: GatewayTable) -> None:
    put(gateway_table, TeamRecord(team_id="t1", team_alias="Core", created_at=NOW))
    write(
        gateway_table,
        [
            report_row(
                "2025-12-01",
                "t1",
                "gpt",
                spend_micros=1_000_000,
                prompt_tokens=10,
                completion_tokens=5,
                requests=2,
            ),
            report_row(
                "2025-12-01",
                "t1",
                "claude",
                spend_micros=500_000,
                prompt_tokens=1,
                completion_tokens=1,
                requests=1,
            ),
            report_row(
                "2025-12-01",
                None,
                "gpt",
                spend_micros=250_000,
                prompt_tokens=4,
                completion_tokens=0,
                requests=1,
            ),
            report_row(
                "2025-12-03",
                "gone",
                "gpt",
                spend_micros=2_000_000,
                prompt_tokens=7,
                completion_tokens=3,
                requests=4,
            ),
            report_row("2025-12-05", "t1", "gpt", spend_micros=9_000_000, requests=1),
            tag_row("2025-12-01", "job:a", spend_micros=1_250_000, requests=3),
            tag_row("2025-12-01", "env:prod", spend_micros=500_000, requests=1),
            tag_row("2025-12-03", "job:a", spend_micros=2_000_000, requests=4),
        ],
    )


async def test_report_sums_each_day_per_team_and_model(app: object, report_rows: None) -> None:
    dates = {"start_date": "2025-12-01", "end_date": "2025-12-03"}
    async with asgi_client(app) as client:
        by_team = await get(client, "/global/spend/report", **dates)
        explicit = await get(client, "/global/spend/report", group_by="team", **dates)
        by_model = await get(client, "/global/spend/report", group_by="model", **dates)
    assert (
        by_team
        == explicit
        == [
            {
                "group_by_day": "2025-12-01T00:00:00+00:00",
                "teams": [
                    {
                        "team_name": "Core",
                        "team_id": "t1",
                        "total_spend": 1.5,
                        "metadata": [
                            {"model": "gpt", "spend": 1.0, "total_tokens": 15},
                            {"model": "claude", "spend": 0.5, "total_tokens": 2},
                        ],
                    },
                    {
                        "team_name": "Unassigned Team",
                        "team_id": None,
                        "total_spend": 0.25,
                        "metadata": [{"model": "gpt", "spend": 0.25, "total_tokens": 4}],
                    },
                ],
            },
            {
                "group_by_day": "2025-12-03T00:00:00+00:00",
                "teams": [
                    {
                        "team_name": "gone",  # a deleted team is named by its id
                        "team_id": "gone",
                        "total_spend": 2.0,
                        "metadata": [{"model": "gpt", "spend": 2.0, "total_tokens": 10}],
                    }
                ],
            },
        ]
    )
    first_day = by_model[0]
    assert first_day["group_by_day"] == "2025-12-01T00:00:00+00:00"
    assert [(m["model"], m["total_spend"]) for m in first_day["models"]] == [
        ("gpt", 1.25),
        ("claude", 0.5),
    ]
    assert first_day["models"][0]["metadata"] == [
        {"team_name": "Core", "team_id": "t1", "spend": 1.0, "total_tokens": 15},
        {"team_name": "Unassigned Team", "team_id": None, "spend": 0.25, "total_tokens": 4},
    ]
    assert len(by_model) == 2


async def test_tags_sum_over_the_days(app: object, report_rows: None) -> None:
    async with asgi_client(app) as client:
        both = await get(client, "/spend/tags", start_date="2025-12-01", end_date="2025-12-03")
        first = await get(client, "/spend/tags", start_date="2025-12-01", end_date="2025-12-01")
    assert both == [
        {"individual_request_tag": "job:a", "log_count": 7, "total_spend": 3.25},
        {"individual_request_tag": "env:prod", "log_count": 1, "total_spend": 0.5},
    ]
    assert first[0] == {"individual_request_tag": "job:a", "log_count": 3, "total_spend": 1.25}


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/global/spend/report", {"end_date": "2025-12-01"}, "start_date"),
        ("/global/spend/report", {"start_date": "2025-12-01"}, "end_date"),
        (
            "/global/spend/report",
            {"start_date": "2025-12-01T00:00:00Z", "end_date": "2025-12-01"},
            "start_date",
        ),
        (
            "/global/spend/report",
            {"start_date": "2024-01-01", "end_date": "2025-01-02"},
            "start_date",
        ),
        (
            "/global/spend/report",
            {"start_date": "2025-12-01", "end_date": "2025-12-01", "group_by": "customer"},
            "group_by",
        ),
        (
            "/global/spend/report",
            {"start_date": "2025-12-01", "end_date": "2025-12-01", "api_key": "x"},
            "api_key",
        ),
        ("/spend/tags", {}, "start_date"),
        ("/spend/tags", {"start_date": "2025-12-02", "end_date": "2025-12-01"}, "end_date"),
    ],
)
async def test_report_parameters_are_checked(
    app: object, path: str, params: dict[str, str], param: str
) -> None:
    async with asgi_client(app) as client:
        response = await client.get(path, params=params, headers=MASTER)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


# ---- spend in info and list answers ---------------------------------------------------


async def test_info_shows_period_spend_with_a_duration_else_lifetime(
    app: object, gateway_table: GatewayTable
) -> None:
    month = period_of("1mo", NOW)
    last_month = period_of("1mo", month.start - 1)
    put(gateway_table, TeamRecord(team_id="monthly", budget_duration="1mo", created_at=NOW))
    put(gateway_table, TeamRecord(team_id="forever", created_at=NOW))
    put(gateway_table, UserRecord(user_id="u", budget_duration="1d", created_at=NOW))
    key, token = new_key(gateway_table, "kid", team_id="monthly", budget_duration="1mo")
    write(
        gateway_table,
        [
            {"pk": table.budget_pk("team", "monthly"), "sk": month.id, "spent": 2_500_000},
            {"pk": table.budget_pk("team", "monthly"), "sk": last_month.id, "spent": 9_000_000},
            {
                "pk": table.spend_pk("team", "monthly"),
                "sk": table.TOTAL_SK,
                "spend_micros": 11_500_000,
            },
            {
                "pk": table.spend_pk("team", "forever"),
                "sk": table.TOTAL_SK,
                "spend_micros": 1_234_567,
            },
            {"pk": table.budget_pk("key", "kid"), "sk": month.id, "spent": 700_000},
            {"pk": table.spend_pk("key", "kid"), "sk": table.TOTAL_SK, "spend_micros": 1},
        ],
    )
    month_end = dt.datetime.fromtimestamp(month.end or 0, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with asgi_client(app) as client:
        monthly = await get(client, "/team/info", team_id="monthly")
        forever = await get(client, "/team/info", team_id="forever")
        key_info = await get(client, "/key/info", key=key)
        user = await get(client, "/user/info", user_id="u")
        teams = await get(client, "/team/list")
        keys = await get(client, "/key/list", return_full_object="true")
        users = await get(client, "/user/list")
    assert (monthly["team_info"]["spend"], monthly["team_info"]["budget_reset_at"]) == (
        2.5,
        month_end,
    )
    assert [(k["token"], k["spend"]) for k in monthly["keys"]] == [(token, 0.7)]
    assert (forever["team_info"]["spend"], forever["team_info"]["budget_reset_at"]) == (
        1.234567,
        None,
    )
    assert (key_info["info"]["spend"], key_info["info"]["budget_reset_at"]) == (0.7, month_end)
    assert user["user_info"]["spend"] == 0.0  # no budget item for today's period yet
    assert user["user_info"]["budget_reset_at"] == "2026-01-02T00:00:00Z"
    assert {t["team_id"]: t["spend"] for t in teams} == {"monthly": 2.5, "forever": 1.234567}
    assert [k["spend"] for k in keys["keys"]] == [0.7]
    assert [(u["user_id"], u["spend"]) for u in users["users"]] == [("u", 0.0)]


async def test_a_new_team_shows_what_its_id_spent_before(
    app: object, gateway_table: GatewayTable
) -> None:
    write(
        gateway_table,
        [{"pk": table.spend_pk("team", "again"), "sk": table.TOTAL_SK, "spend_micros": 42}],
    )
    async with asgi_client(app) as client:
        made = await client.post("/team/new", json={"team_id": "again"}, headers=MASTER)
        info = await get(client, "/team/info", team_id="again")
    assert made.status_code == 200, made.text
    assert made.json()["spend"] == 0.000042
    assert info["team_info"] == made.json()
