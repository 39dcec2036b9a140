"""Virtual keys on inference routes: who gets in, with which models, and how failures look.

Unknown, blocked, expired and revoked keys and malformed credentials all get the same
401; a model outside the key's (or its team's) list is 403 before any upstream call;
DynamoDB failing on lookup is 503 with Retry-After, never 401 for a valid key.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import pytest

from conftest import MASTER_KEY
from keys import asgi_client, bearer, chat, make_key, make_team, make_user

if TYPE_CHECKING:
    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(gateway_env: SimulatorApp, gateway_table: GatewayTable):  # type: ignore[no-untyped-def]
    from gateway.http.app import create_app

    return create_app()


async def test_a_key_serves_chat_and_the_master_key_still_works(
    app: object, gateway_table: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(gateway_table)
    async with asgi_client(app) as client:
        for credential in (key, MASTER_KEY):
            response = await client.post(
                "/v1/chat/completions", json=chat(), headers=bearer(credential)
            )
            assert response.status_code == 200, response.text
            assert response.json()["choices"][0]["message"]["content"] == "Echo: hello"
    assert len(gateway_env.requests) == 2


async def test_unknown_blocked_expired_revoked_keys_share_one_401(
    app: object, gateway_table: GatewayTable, gateway_env: SimulatorApp
) -> None:
    make_team(gateway_table, "blocked-team", blocked=True)
    keys = {
        "unknown": "sk-gw-" + "x" * 43,
        "blocked": make_key(gateway_table, blocked=True),
        "expired": make_key(gateway_table, expires=int(time.time()) - 1),
        "blocked team": make_key(gateway_table, team_id="blocked-team"),
        "deleted team": make_key(gateway_table, team_id="no-such-team"),
    }
    revoked = make_key(gateway_table)
    from gateway.store.keys import hash_key

    gateway_table.client.delete_item(
        TableName=gateway_table.name,
        Key={"pk": {"S": f"KEY#{hash_key(revoked)}"}, "sk": {"S": "KEY"}},
    )
    keys["revoked"] = revoked
    bodies = set()
    async with asgi_client(app) as client:
        for name, key in keys.items():
            response = await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
            assert response.status_code == 401, name
            assert response.headers["x-request-id"]
            bodies.add(response.content)
    assert len(bodies) == 1
    assert gateway_env.requests == []


MALFORMED: list[tuple[str, list[tuple[str, str]]]] = [
    ("no header", []),
    ("empty bearer", [("authorization", "Bearer ")]),
    ("bearer only", [("authorization", "Bearer")]),
    ("basic scheme", [("authorization", "Basic dXNlcjpwYXNz")]),
    ("two headers", [("authorization", "Bearer a"), ("authorization", "Bearer b")]),
    ("8 KiB key", [("authorization", "Bearer " + "k" * 8192)]),
    ("sql injection", [("authorization", "Bearer ' OR '1'='1")]),
    ("nosql injection", [("authorization", 'Bearer {"$ne":null}')]),
    ("key hash as key", [("authorization", "Bearer " + "0" * 64)]),
    ("pk injection", [("authorization", "Bearer KEY#x")]),
    ("unicode", [("authorization", "Bearer sk-gw-\u0430\u0431\u0432")]),
]


@pytest.mark.parametrize(("case", "headers"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_credentials_are_401_never_5xx(
    app: object, gateway_env: SimulatorApp, case: str, headers: list[tuple[str, str]]
) -> None:
    async with asgi_client(app) as client:
        request = client.build_request(
            "POST",
            "/v1/chat/completions",
            json=chat(),
            headers=[(k.encode(), v.encode("utf-8")) for k, v in headers],
        )
        response = await client.send(request)
    assert response.status_code == 401, (case, response.text)
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert gateway_env.requests == []


async def test_control_characters_in_the_key_are_401(app: object) -> None:
    async def send(value: bytes) -> int:
        messages: list[dict[str, object]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "headers": [(b"authorization", value), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("gateway", 80),
        }
        body = [{"type": "http.request", "body": b"{}", "more_body": False}]

        async def receive() -> dict[str, object]:
            return body.pop(0) if body else {"type": "http.disconnect"}

        async def sendmsg(message: dict[str, object]) -> None:
            messages.append(message)

        await app(scope, receive, sendmsg)  # type: ignore[operator]
        return int(messages[0]["status"])  # type: ignore[call-overload]

    for value in (b"Bearer sk-gw-a\x00b", b"Bearer sk-gw-a\r\nX: y", b"Bearer sk\x7f"):
        assert await send(value) == 401


async def test_models_outside_the_key_or_team_list_are_403_without_an_upstream_call(
    app: object, gateway_table: GatewayTable, gateway_env: SimulatorApp
) -> None:
    make_team(gateway_table, "t-openai", models=("gpt-4o-mini", "priced"))
    only_mini = make_key(gateway_table, models=("gpt-4o-mini",))
    anthropic = make_key(gateway_table, models=("anthropic/*",))
    team_key = make_key(gateway_table, team_id="t-openai")  # no list of its own: the team's
    cases = [
        (only_mini, "gpt-4o-mini", 200),
        (only_mini, "claude-3-5-haiku", 403),
        (only_mini, "GPT-4O-MINI", 403),
        (only_mini, "gpt-4o-mini ", 403),
        (only_mini, "openai/gpt-4o-mini", 403),
        (anthropic, "claude-3-5-haiku", 200),
        (anthropic, "one-second", 200),
        (anthropic, "gpt-4o-mini", 403),
        (anthropic, "bedrock-claude", 403),
        (team_key, "priced", 200),
        (team_key, "claude-3-5-haiku", 403),
    ]
    async with asgi_client(app) as client:
        for key, model, status in cases:
            before = len(gateway_env.requests)
            response = await client.post(
                "/v1/chat/completions", json=chat(model=model), headers=bearer(key)
            )
            assert response.status_code == status, (model, response.text)
            if status == 403:
                assert response.json()["error"]["code"] == "model_not_allowed"
                assert len(gateway_env.requests) == before


async def test_a_team_narrows_what_its_key_lists(app: object, gateway_table: GatewayTable) -> None:
    make_team(gateway_table, "narrow", models=("gpt-4o-mini",))
    key = make_key(gateway_table, team_id="narrow", models=("*",))
    async with asgi_client(app) as client:
        denied = await client.post(
            "/v1/chat/completions", json=chat(model="priced"), headers=bearer(key)
        )
        listed = await client.get("/v1/models", headers=bearer(key))
    assert denied.status_code == 403
    assert [m["id"] for m in listed.json()["data"]] == ["gpt-4o-mini"]


async def test_key_aliases_map_a_name_to_an_allowed_model(
    app: object, gateway_table: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(gateway_table, models=("gpt-4",), aliases={"gpt-4": "gpt-4o-mini"})
    async with asgi_client(app) as client:
        response = await client.post(
            "/v1/chat/completions", json=chat(model="gpt-4"), headers=bearer(key)
        )
    assert response.status_code == 200, response.text
    assert gateway_env.requests[-1]["json"]["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("fault", ["throttle", "unavailable"])
async def test_dynamodb_failing_on_lookup_is_503_with_retry_after(
    app: object, gateway_table: GatewayTable, gateway_env: SimulatorApp, fault: str
) -> None:
    key = make_key(gateway_table)
    gateway_table.emulation.faults["GetItem"] = fault
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
        master = await client.post("/v1/chat/completions", json=chat(), headers=bearer(MASTER_KEY))
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["code"] == "service_unavailable"
    assert master.status_code == 200  # the master key needs no table
    assert len(gateway_env.requests) == 1


async def test_revocation_reaches_another_instance_within_the_cache_bound(
    gateway_env: SimulatorApp,
    gateway_table: GatewayTable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.config import settings
    from gateway.http.app import create_app
    from gateway.store.keys import hash_key

    monkeypatch.setenv("GATEWAY_KEY_CACHE_S", "0.5")
    settings.cache_clear()
    key = make_key(gateway_table)
    x, y = create_app(), create_app()
    async with asgi_client(x) as on_x, asgi_client(y) as on_y:
        assert (
            await on_y.post("/v1/chat/completions", json=chat(), headers=bearer(key))
        ).is_success
        gateway_table.client.update_item(  # what /key/block does, through instance X's table
            TableName=gateway_table.name,
            Key={"pk": {"S": f"KEY#{hash_key(key)}"}, "sk": {"S": "KEY"}},
            UpdateExpression="SET blocked = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
        blocked_at = time.monotonic()
        assert (
            await on_x.post("/v1/chat/completions", json=chat(), headers=bearer(key))
        ).status_code == 401
        while (
            await on_y.post("/v1/chat/completions", json=chat(), headers=bearer(key))
        ).status_code == 200:
            assert time.monotonic() - blocked_at < 0.5 + 0.2, "Y kept serving past the bound"
            await anyio.sleep(0.05)
    assert time.monotonic() - blocked_at < 0.5 + 0.2


async def test_user_and_team_records_are_read_once_per_cache_period(
    app: object, gateway_table: GatewayTable
) -> None:
    make_team(gateway_table, "t1")
    make_user(gateway_table, "u1")
    key = make_key(gateway_table, team_id="t1", user_id="u1")
    async with asgi_client(app) as client:
        for _ in range(5):
            response = await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
            assert response.status_code == 200
    assert gateway_table.emulation.calls.count("GetItem") == 3  # key, team, user: once each
