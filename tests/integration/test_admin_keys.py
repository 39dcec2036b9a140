"""The admin API's /key routes against the table on the AWS emulation.

LiteLLM's request fields and answer shapes; the key itself only in the answer that
creates it (never in the table, the audit trail or any other answer); rotation with
and without a grace period; an audit record in the same transaction as each change;
503 with Retry-After when DynamoDB throttles.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from conftest import MASTER_KEY
from gateway.store.keys import hash_key
from keys import asgi_client, bearer

if TYPE_CHECKING:
    import httpx

    from conftest import GatewayTable

pytestmark = pytest.mark.anyio

MASTER = bearer(MASTER_KEY)


@pytest.fixture
def app(gateway_env: object, gateway_table: GatewayTable):  # type: ignore[no-untyped-def]
    from gateway.http.app import create_admin_app

    return create_admin_app()


async def generate(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/key/generate", json=body, headers=MASTER)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def admin_status(client: httpx.AsyncClient, key: str) -> int:
    """403: the key is valid (admin routes refuse virtual keys); 401: it is not."""
    return (await client.get("/key/list", headers=bearer(key))).status_code


def item(table: GatewayTable, pk: str, sk: str) -> dict[str, Any] | None:
    return next((i for i in table.items() if i["pk"] == pk and i["sk"] == sk), None)


def audits(table: GatewayTable, action: str | None = None) -> list[dict[str, Any]]:
    found = [i for i in table.items() if i["pk"].startswith("AUDIT#")]
    return [a for a in found if action is None or a["action"] == action]


async def test_generate_answers_litellm_shape_and_stores_only_the_hash(
    app: object, gateway_table: GatewayTable
) -> None:
    async with asgi_client(app) as client:
        data = await generate(
            client,
            key_alias="ci",
            models=["gpt-4o-mini"],
            max_budget=12.5,
            soft_budget=10,
            budget_duration="30d",
            rpm_limit=60,
            tpm_limit=1000,
            max_parallel_requests=2,
            duration="30d",
            metadata={"owner": "ci"},
            aliases={"gpt-4": "gpt-4o-mini"},
        )
    key = data["key"]
    assert key.startswith("sk-gw-")
    assert data["token"] == data["token_id"] == hash_key(key)
    assert data["key_name"] == f"sk-gw-...{key[-4:]}"
    assert data["max_budget"] == 12.5
    assert data["soft_budget"] == 10
    assert data["models"] == ["gpt-4o-mini"]
    assert data["aliases"] == {"gpt-4": "gpt-4o-mini"}
    assert data["expires"].endswith("Z")
    expires = time.mktime(time.strptime(data["expires"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (time.time() + 30 * 86400)) < 60
    stored = item(gateway_table, f"KEY#{hash_key(key)}", "KEY")
    assert stored is not None
    assert stored["max_budget_micros"] == 12_500_000
    assert stored["soft_budget_micros"] == 10_000_000
    assert stored["key_id"]
    assert key not in repr(gateway_table.items())


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"spend": 0}, 400, "unsupported_parameter", "spend"),
        ({"key": "sk-gw-mine"}, 400, "unsupported_parameter", "key"),
        ({"metadata": {}, "organization_id": "o"}, 400, "unsupported_parameter", "organization_id"),
        ({"rpm_limit": "5"}, 400, "invalid_value", "rpm_limit"),
        ({"rpm_limit": -1}, 400, "invalid_value", "rpm_limit"),
        ({"max_budget": "10"}, 400, "invalid_value", "max_budget"),
        ({"duration": "30 days"}, 400, "invalid_value", "duration"),
        ({"duration": "999999mo"}, 400, "invalid_value", "duration"),
        ({"budget_duration": "1y"}, 400, "invalid_value", "budget_duration"),
        ({"models": "gpt-4o-mini"}, 400, "invalid_value", "models"),
        ({"blocked": "yes"}, 400, "invalid_value", "blocked"),
        ({"team_id": "no-such-team"}, 404, "not_found", "team_id"),
    ],
)
async def test_generate_rejects_what_it_does_not_implement(
    app: object, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    async with asgi_client(app) as client:
        response = await client.post("/key/generate", json=body, headers=MASTER)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert response.headers["x-request-id"]


async def test_query_parameters_are_never_ignored(app: object) -> None:
    async with asgi_client(app) as client:
        on_post = await client.post("/key/generate?team_id=t", json={}, headers=MASTER)
        on_get = await client.get("/key/list?organization_id=o", headers=MASTER)
        too_big = await client.get("/key/list?size=101", headers=MASTER)
        twice = await client.get("/key/info?key=a&key=b", headers=MASTER)
    assert on_post.json()["error"]["param"] == "team_id"
    assert on_get.json()["error"]["code"] == "unsupported_parameter"
    assert too_big.json()["error"]["param"] == "size"
    assert twice.status_code == 400


async def test_info_update_and_null_clears(app: object) -> None:
    async with asgi_client(app) as client:
        created = await generate(client, key_alias="a", rpm_limit=5, tpm_limit=7)
        key, token = created["key"], created["token"]
        info = await client.get("/key/info", params={"key": key}, headers=MASTER)
        by_hash = await client.get("/key/info", params={"key": token}, headers=MASTER)
        updated = await client.post(
            "/key/update",
            json={"key": token, "rpm_limit": None, "key_alias": "b", "blocked": False},
            headers=MASTER,
        )
        missing = await client.get("/key/info", params={"key": "sk-gw-nope"}, headers=MASTER)
        gone = await client.post("/key/update", json={"key": "0" * 64}, headers=MASTER)
    assert info.json()["key"] == token
    assert info.json()["info"]["key_alias"] == "a"
    assert "token" not in info.json()["info"]
    assert by_hash.json() == info.json()
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["key"], body["rpm_limit"], body["tpm_limit"]) == (token, None, 7)
    assert body["key_alias"] == "b"
    assert key not in updated.text
    assert missing.status_code == gone.status_code == 404


async def test_list_pages_newest_first_and_filters(
    app: object, gateway_table: GatewayTable
) -> None:
    async with asgi_client(app) as client:
        made = []
        for i in range(7):
            made.append(await generate(client, key_alias=f"k{i}", user_id="u1" if i < 3 else None))
            app.state.clock = lambda i=i: time.time() + i + 1  # type: ignore[attr-defined]
        first = (await client.get("/key/list?size=3", headers=MASTER)).json()
        third = (await client.get("/key/list?size=3&page=3", headers=MASTER)).json()
        full = await client.get(
            "/key/list", params={"user_id": "u1", "return_full_object": "true"}, headers=MASTER
        )
        alias = (await client.get("/key/list?key_alias=k4", headers=MASTER)).json()
    newest_first = [m["token"] for m in reversed(made)]
    assert first == {
        "keys": newest_first[:3],
        "total_count": 7,
        "current_page": 1,
        "total_pages": 3,
    }
    assert third["keys"] == newest_first[6:]
    rows = full.json()["keys"]
    assert [r["key_alias"] for r in rows] == ["k2", "k1", "k0"]
    assert full.json()["total_count"] == 3
    assert alias["keys"] == [made[4]["token"]]


async def test_delete_by_key_and_by_alias(app: object, gateway_table: GatewayTable) -> None:
    async with asgi_client(app) as client:
        one = await generate(client)
        two = await generate(client, key_alias="twice")
        three = await generate(client, key_alias="twice")
        assert await admin_status(client, one["key"]) == 403
        missing = await client.post(
            "/key/delete", json={"keys": [one["key"], "sk-gw-nope"]}, headers=MASTER
        )
        assert missing.status_code == 404
        assert await admin_status(client, one["key"]) == 403  # nothing deleted
        deleted = await client.post("/key/delete", json={"keys": [one["key"]]}, headers=MASTER)
        by_alias = await client.post("/key/delete", json={"key_aliases": ["twice"]}, headers=MASTER)
        empty = await client.post("/key/delete", json={}, headers=MASTER)
    assert deleted.json() == {"deleted_keys": [one["token"]]}
    assert by_alias.json() == {"deleted_keys": ["twice"]}
    assert empty.status_code == 400
    assert not [i for i in gateway_table.items() if i["pk"].startswith("KEY#")]
    assert len(audits(gateway_table, "key.delete")) == 3
    for data in (one, two, three):
        assert data["key"] not in repr(gateway_table.items())


async def test_block_and_unblock(app: object) -> None:
    async with asgi_client(app) as client:
        data = await generate(client)
        blocked = await client.post("/key/block", json={"key": data["key"]}, headers=MASTER)
        assert blocked.json()["blocked"] is True
    from gateway.http.app import create_admin_app

    # A new app each time: an app caches key lookups for a few seconds.
    async with asgi_client(create_admin_app()) as client:
        assert await admin_status(client, data["key"]) == 401
        unblocked = await client.post("/key/unblock", json={"key": data["token"]}, headers=MASTER)
        assert unblocked.json()["blocked"] is False
    async with asgi_client(create_admin_app()) as client:
        assert await admin_status(client, data["key"]) == 403


@pytest.mark.parametrize("form", ["body", "path"])
async def test_rotation_without_grace_revokes_the_old_key(
    app: object, gateway_table: GatewayTable, form: str
) -> None:
    async with asgi_client(app) as client:
        old = await generate(client, key_alias="rotating", rpm_limit=9)
        old_item = item(gateway_table, f"KEY#{old['token']}", "KEY")
        assert old_item is not None
        if form == "body":
            response = await client.post(
                "/key/regenerate", json={"key": old["key"], "tpm_limit": 5}, headers=MASTER
            )
        else:
            await client.post(
                "/key/update", json={"key": old["key"], "tpm_limit": 5}, headers=MASTER
            )
            response = await client.post(f"/key/{old['token']}/regenerate", headers=MASTER)
        assert response.status_code == 200, response.text
        new = response.json()
        assert await admin_status(client, old["key"]) == 401
        assert await admin_status(client, new["key"]) == 403
    assert new["key"] != old["key"]
    assert new["token"] == hash_key(new["key"])
    assert (new["key_alias"], new["rpm_limit"], new["tpm_limit"]) == ("rotating", 9, 5)
    records = [i for i in gateway_table.items() if i["pk"].startswith("KEY#")]
    assert [r["token"] for r in records] == [new["token"]]
    assert records[0]["key_id"] == old_item["key_id"]  # rate limits follow the key
    assert len(audits(gateway_table, "key.regenerate")) == 2


async def test_rotation_with_grace_keeps_the_old_key_until_the_grace_ends(
    app: object, gateway_table: GatewayTable
) -> None:
    from gateway.http.app import create_admin_app
    from gateway.http.dependencies import table
    from gateway.store.directory import Directory

    async with asgi_client(app) as client:
        old = await generate(client)
        before = time.time()
        response = await client.post(
            "/key/regenerate", json={"key": old["key"], "grace_period": "1h"}, headers=MASTER
        )
        new = response.json()
        again = await client.post("/key/regenerate", json={"key": old["key"]}, headers=MASTER)
        assert await admin_status(client, old["key"]) == 403  # still valid in its grace
        assert await admin_status(client, new["key"]) == 403
    assert again.json()["error"]["param"] == "key"
    retired = item(gateway_table, f"KEY#{old['token']}", "KEY")
    assert retired is not None
    assert retired["rotated_to"] == new["token"]
    assert before + 3600 - 1 <= retired["expires"] <= time.time() + 3600
    assert retired["expires_at"] == retired["expires"]
    successor = item(gateway_table, f"KEY#{new['token']}", "KEY")
    assert successor is not None
    assert successor["key_id"] == retired["key_id"]

    db = table()
    assert db is not None
    clock = [time.time()]
    directory = Directory(db, 0, clock=lambda: clock[0])
    assert await directory.identify(old["token"]) is not None
    clock[0] = retired["expires"] + 1
    assert await directory.identify(old["token"]) is None
    assert await directory.identify(new["token"]) is not None

    gateway_table.client.update_item(  # the grace is over
        TableName=gateway_table.name,
        Key={"pk": {"S": f"KEY#{old['token']}"}, "sk": {"S": "KEY"}},
        UpdateExpression="SET expires = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    async with asgi_client(create_admin_app()) as client:
        assert await admin_status(client, old["key"]) == 401
        assert await admin_status(client, new["key"]) == 403


async def test_revoking_the_new_key_revokes_the_old_one_in_its_grace(
    app: object, gateway_table: GatewayTable
) -> None:
    async with asgi_client(app) as client:
        old = await generate(client)
        new = (
            await client.post(
                "/key/regenerate", json={"key": old["key"], "grace_period": "1d"}, headers=MASTER
            )
        ).json()
        deleted = await client.post("/key/delete", json={"keys": [new["key"]]}, headers=MASTER)
    assert deleted.status_code == 200
    assert not [i for i in gateway_table.items() if i["pk"].startswith("KEY#")]


async def test_every_change_is_audited_with_the_request_id_and_no_key(
    app: object, gateway_table: GatewayTable
) -> None:
    async with asgi_client(app) as client:
        response = await client.post("/key/generate", json={"key_alias": "x"}, headers=MASTER)
        data = response.json()
        rid = response.headers["x-request-id"]
        calls = [
            ("/key/update", {"key": data["key"], "rpm_limit": 3}),
            ("/key/block", {"key": data["key"]}),
            ("/key/unblock", {"key": data["key"]}),
            ("/key/regenerate", {"key": data["key"], "grace_period": "1h"}),
        ]
        for path, body in calls:
            assert (await client.post(path, json=body, headers=MASTER)).status_code == 200
    records = audits(gateway_table)
    actions = sorted(r["action"] for r in records)
    assert actions == sorted(
        ["key.generate", "key.update", "key.block", "key.unblock"] + ["key.regenerate"] * 2
    )
    generated = next(r for r in records if r["action"] == "key.generate")
    assert generated["request_id"] == rid
    assert generated["sk"].endswith(f"#{rid}")
    assert generated["pk"] == f"AUDIT#key#{data['token']}"
    assert (generated["actor"], generated["kind"], generated["id"]) == (
        "master_key",
        "key",
        data["token"],
    )
    assert "before" not in generated
    assert generated["after"]["token"] == data["token"]
    updated = next(r for r in records if r["action"] == "key.update")
    assert (updated["before"]["rpm_limit"], updated["after"]["rpm_limit"]) == (None, 3)
    assert data["key"] not in repr(gateway_table.items())


@pytest.mark.parametrize("fault", ["throttle", "unavailable"])
async def test_dynamodb_failing_is_503_with_retry_after(
    app: object, gateway_table: GatewayTable, fault: str
) -> None:
    gateway_table.emulation.faults["*"] = fault
    async with asgi_client(app) as client:
        for response in (
            await client.post("/key/generate", json={}, headers=MASTER),
            await client.get("/key/list", headers=MASTER),
            await client.post("/team/new", json={}, headers=MASTER),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
            assert response.headers["x-request-id"]
            assert response.json()["error"]["type"] == "service_unavailable_error"
    gateway_table.emulation.faults.clear()
    assert not gateway_table.items()


async def test_without_a_table_the_admin_api_is_503(
    gateway_env: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.http import dependencies
    from gateway.http.app import create_admin_app

    monkeypatch.delenv("GATEWAY_TABLE", raising=False)
    dependencies.reset()
    async with asgi_client(create_admin_app()) as client:
        response = await client.post("/key/generate", json={}, headers=MASTER)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_configured"
