"""The admin API's /team and /user routes, and the rule that a key stays within its team.

A key's rpm_limit, tpm_limit, max_parallel_requests and max_budget are at most its
team's, and its models within the team's (wildcards too); a team-scoped action only
reads or changes that team's objects; deleting a team or a user takes its keys along.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from conftest import MASTER_KEY
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


async def post(client: httpx.AsyncClient, path: str, **body: Any) -> httpx.Response:
    return await client.post(path, json=body, headers=MASTER)


async def ok(client: httpx.AsyncClient, path: str, **body: Any) -> dict[str, Any]:
    response = await post(client, path, **body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def error(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["param"]


def key_items(table: GatewayTable) -> list[dict[str, Any]]:
    return [i for i in table.items() if i["pk"].startswith("KEY#")]


LIMITED_TEAM = {
    "team_id": "t1",
    "rpm_limit": 100,
    "tpm_limit": 1000,
    "max_parallel_requests": 4,
    "max_budget": 50.0,
    "models": ["anthropic/*", "gpt-4o-mini"],
}


async def test_team_new_info_list_and_duplicates(app: object) -> None:
    async with asgi_client(app) as client:
        team = await ok(client, "/team/new", team_alias="Core", metadata={"a": 1}, **LIMITED_TEAM)
        generated = await ok(client, "/team/new")
        duplicate = await post(client, "/team/new", team_id="t1")
        info = (await client.get("/team/info?team_id=t1", headers=MASTER)).json()
        listed = (await client.get("/team/list", headers=MASTER)).json()
        missing = await client.get("/team/info?team_id=nope", headers=MASTER)
    assert team["team_id"] == "t1"
    assert (team["max_budget"], team["rpm_limit"], team["team_alias"]) == (50.0, 100, "Core")
    assert len(generated["team_id"]) == 36  # a UUID, as LiteLLM makes
    assert error(duplicate) == (400, "already_exists", "team_id")
    assert info["team_info"] == team
    assert (info["keys"], info["team_memberships"]) == ([], [])
    assert {t["team_id"] for t in listed} == {"t1", generated["team_id"]}
    assert error(missing) == (404, "not_found", "team_id")


@pytest.mark.parametrize(
    ("key", "param"),
    [
        ({"rpm_limit": 101}, "rpm_limit"),
        ({"tpm_limit": 1001}, "tpm_limit"),
        ({"max_parallel_requests": 5}, "max_parallel_requests"),
        ({"max_budget": 50.01}, "max_budget"),
        ({"models": ["openai/gpt-4o"]}, "models"),
        ({"models": ["*"]}, "models"),
        ({"models": ["gpt-4o-mini", "priced"]}, "models"),
    ],
)
async def test_a_key_cannot_exceed_its_team(
    app: object, gateway_table: GatewayTable, key: dict[str, Any], param: str
) -> None:
    async with asgi_client(app) as client:
        await ok(client, "/team/new", **LIMITED_TEAM)
        response = await post(client, "/key/generate", team_id="t1", **key)
    assert error(response) == (400, "invalid_value", param)
    assert not key_items(gateway_table)


async def test_a_key_within_its_team_is_accepted(app: object) -> None:
    async with asgi_client(app) as client:
        await ok(client, "/team/new", **LIMITED_TEAM)
        at_caps = await ok(
            client,
            "/key/generate",
            team_id="t1",
            rpm_limit=100,
            tpm_limit=1000,
            max_parallel_requests=4,
            max_budget=50,
            # by pattern, by the config's provider for the group, and by name
            models=["anthropic/claude-3-5-haiku-20241022", "claude-3-5-haiku", "gpt-4o-mini"],
        )
        inherits = await ok(client, "/key/generate", team_id="t1")
    assert at_caps["team_id"] == inherits["team_id"] == "t1"
    assert inherits["models"] == []


async def test_key_updates_and_moves_are_checked_against_the_target_team(app: object) -> None:
    async with asgi_client(app) as client:
        await ok(client, "/team/new", **LIMITED_TEAM)
        await ok(client, "/team/new", team_id="t2", rpm_limit=10)
        key = await ok(client, "/key/generate", team_id="t1", rpm_limit=50)
        above = await post(client, "/key/update", key=key["token"], rpm_limit=101)
        move = await post(client, "/key/update", key=key["token"], team_id="t2")
        move_lowered = await post(
            client, "/key/update", key=key["token"], team_id="t2", rpm_limit=10
        )
        gone = await post(client, "/key/update", key=key["token"], team_id="t3")
        t1 = (await client.get("/key/list?team_id=t1", headers=MASTER)).json()
        t2 = (await client.get("/key/list?team_id=t2", headers=MASTER)).json()
    assert error(above) == (400, "invalid_value", "rpm_limit")
    assert error(move) == (400, "invalid_value", "rpm_limit")
    assert move_lowered.status_code == 200, move_lowered.text
    assert move_lowered.json()["team_id"] == "t2"
    assert error(gone) == (404, "not_found", "team_id")
    assert (t1["keys"], t2["keys"]) == ([], [key["token"]])


async def test_a_team_update_cannot_leave_a_key_above_the_team(app: object) -> None:
    async with asgi_client(app) as client:
        await ok(client, "/team/new", **LIMITED_TEAM)
        key = await ok(client, "/key/generate", team_id="t1", tpm_limit=800, models=["gpt-4o-mini"])
        lowered = await post(client, "/team/update", team_id="t1", tpm_limit=500)
        narrowed = await post(client, "/team/update", team_id="t1", models=["anthropic/*"])
        await ok(client, "/key/update", key=key["token"], tpm_limit=400)
        updated = await ok(client, "/team/update", team_id="t1", tpm_limit=500, team_alias="x")
        missing = await post(client, "/team/update", team_id="nope", tpm_limit=1)
    assert error(lowered) == (400, "invalid_value", "tpm_limit")
    assert error(narrowed) == (400, "invalid_value", "models")
    assert updated["team_id"] == "t1"
    assert (updated["data"]["tpm_limit"], updated["data"]["team_alias"]) == (500, "x")
    assert updated["data"]["rpm_limit"] == 100  # left out: kept
    assert error(missing) == (404, "not_found", "team_id")


async def test_team_scoped_reads_and_deletes_touch_only_that_team(
    app: object, gateway_table: GatewayTable
) -> None:
    async with asgi_client(app) as client:
        await ok(client, "/team/new", team_id="a")
        await ok(client, "/team/new", team_id="b")
        a_keys = [await ok(client, "/key/generate", team_id="a") for _ in range(2)]
        b_key = await ok(client, "/key/generate", team_id="b", user_id="u-b")
        await ok(client, "/user/new", user_id="member", teams=["b", "a"], auto_create_key=False)
        listed = (await client.get("/key/list?team_id=a", headers=MASTER)).json()
        info = (await client.get("/team/info?team_id=a", headers=MASTER)).json()
        deleted = await ok(client, "/team/delete", team_ids=["a"])
        member = (await client.get("/user/info?user_id=member", headers=MASTER)).json()
        b_info = (await client.get("/team/info?team_id=b", headers=MASTER)).json()
        assert (await client.get("/key/list", headers=bearer(a_keys[0]["key"]))).status_code == 401
        assert (await client.get("/key/list", headers=bearer(b_key["key"]))).status_code == 403
        again = await post(client, "/team/delete", team_ids=["a"])
    assert sorted(listed["keys"]) == sorted(k["token"] for k in a_keys)
    assert listed["total_count"] == 2
    assert sorted(k["token"] for k in info["keys"]) == sorted(k["token"] for k in a_keys)
    assert deleted == {"deleted_teams": ["a"]}
    assert member["user_info"]["teams"] == ["b"]
    assert [k["token"] for k in b_info["keys"]] == [b_key["token"]]
    assert [k["token"] for k in key_items(gateway_table)] == [b_key["token"]]
    assert error(again) == (404, "not_found", "team_ids")
    actions = sorted(i["action"] for i in gateway_table.items() if i["pk"].startswith("AUDIT#"))
    assert actions.count("key.delete") == 2
    assert actions.count("team.delete") == 1
    assert actions.count("user.update") == 1


async def test_a_team_id_with_leftover_keys_cannot_be_reused(
    app: object, gateway_table: GatewayTable
) -> None:
    from keys import make_key

    make_key(gateway_table, team_id="old")  # left by a delete that was interrupted
    async with asgi_client(app) as client:
        response = await post(client, "/team/new", team_id="old")
    assert error(response) == (400, "invalid_value", "team_id")


async def test_user_new_creates_the_user_and_its_key(
    app: object, gateway_table: GatewayTable
) -> None:
    async with asgi_client(app) as client:
        await ok(client, "/team/new", **LIMITED_TEAM)
        made = await ok(
            client,
            "/user/new",
            user_id="alice",
            user_email="alice@example.com",
            user_role="internal_user",
            team_id="t1",
            models=["gpt-4o-mini"],
            max_budget=5,
            key_alias="alice-key",
            duration="1h",
        )
        assert (await client.get("/key/list", headers=bearer(made["key"]))).status_code == 403
        without_key = await ok(client, "/user/new", auto_create_key=False)
        duplicate = await post(client, "/user/new", user_id="alice")
        no_team = await post(client, "/user/new", teams=["nope"])
        over_team = await post(client, "/user/new", team_id="t1", models=["openai/gpt-4o"])
        info = (await client.get("/user/info?user_id=alice", headers=MASTER)).json()
    assert made["key"].startswith("sk-gw-")
    assert (made["user_id"], made["user_email"], made["teams"]) == (
        "alice",
        "alice@example.com",
        ["t1"],
    )
    assert (made["max_budget"], made["key_alias"], made["team_id"]) == (5, "alice-key", "t1")
    assert made["expires"] is not None
    assert without_key["key"] == ""
    assert error(duplicate) == (400, "already_exists", "user_id")
    assert error(no_team) == (404, "not_found", "teams")
    assert error(over_team) == (400, "invalid_value", "models")
    assert [k["key_alias"] for k in info["keys"]] == ["alice-key"]
    assert [t["team_id"] for t in info["teams"]] == ["t1"]
    assert made["key"] not in repr(gateway_table.items())


async def test_user_update_list_and_delete(app: object, gateway_table: GatewayTable) -> None:
    async with asgi_client(app) as client:
        await ok(
            client,
            "/team/new",
            team_id="t",
            members_with_roles=[
                {"user_id": "u0", "role": "admin"},
                {"user_id": "keep", "role": "user"},
            ],
        )
        for i in range(5):
            role = "proxy_admin_viewer" if i % 2 else "internal_user"
            app.state.clock = lambda i=i: 1_800_000_000 + i  # type: ignore[attr-defined]
            await ok(client, "/user/new", user_id=f"u{i}", user_role=role, teams=["t"])
        updated = await ok(client, "/user/update", user_id="u1", rpm_limit=7, teams=[])
        bad_team = await post(client, "/user/update", user_id="u1", teams=["nope"])
        first = (await client.get("/user/list?page_size=2", headers=MASTER)).json()
        viewers = (await client.get("/user/list?role=proxy_admin_viewer", headers=MASTER)).json()
        in_team = (await client.get("/user/list?team=t", headers=MASTER)).json()
        some = (await client.get("/user/list?user_ids=u0,u4", headers=MASTER)).json()
        u0_key = (await client.get("/user/info?user_id=u0", headers=MASTER)).json()["keys"][0]
        deleted = await ok(client, "/user/delete", user_ids=["u0"])
        team = (await client.get("/team/info?team_id=t", headers=MASTER)).json()
        teams_of_u2 = (await client.get("/team/list?user_id=u2", headers=MASTER)).json()
        missing = await post(client, "/user/delete", user_ids=["u0"])
    assert updated["user_id"] == "u1"
    assert (updated["data"]["rpm_limit"], updated["data"]["teams"]) == (7, [])
    assert error(bad_team) == (404, "not_found", "teams")
    assert [u["user_id"] for u in first["users"]] == ["u4", "u3"]
    assert (first["total"], first["page"], first["page_size"], first["total_pages"]) == (5, 1, 2, 3)
    assert [u["user_id"] for u in viewers["users"]] == ["u3", "u1"]
    assert [u["user_id"] for u in in_team["users"]] == ["u4", "u3", "u2", "u0"]
    assert [u["user_id"] for u in some["users"]] == ["u4", "u0"]
    assert deleted == {"deleted_users": ["u0"]}
    assert team["team_info"]["members_with_roles"] == [{"user_id": "keep", "role": "user"}]
    assert [t["team_id"] for t in teams_of_u2] == ["t"]
    assert u0_key["token"] not in {k["token"] for k in key_items(gateway_table)}
    assert error(missing) == (404, "not_found", "user_ids")


async def test_concurrent_admins_cannot_overwrite_or_resurrect(
    app: object, gateway_table: GatewayTable
) -> None:
    """A write made from a stale read fails: 409 if the object changed, 404 if it is gone."""
    import dataclasses

    from gateway.errors import NotFoundError
    from gateway.http.dependencies import table
    from gateway.store import entities
    from gateway.store.audit import AuditContext

    async with asgi_client(app) as client:
        await ok(client, "/team/new", team_id="t")
        db = table()
        assert db is not None
        stale = await entities.get_team(db, "t")
        assert stale is not None
        await ok(client, "/team/update", team_id="t", rpm_limit=5)
        context = AuditContext("master_key", "test", 1_800_000_000)
        txn = entities.Transaction(db, context)
        txn.replace(stale, dataclasses.replace(stale.record, rpm_limit=500), "team.update")
        with pytest.raises(entities.ConflictError):
            await txn.commit()
        current = await entities.get_team(db, "t")
        assert current is not None
        await ok(client, "/team/delete", team_ids=["t"])
        txn = entities.Transaction(db, context)
        txn.replace(current, dataclasses.replace(current.record, rpm_limit=500), "team.update")
        with pytest.raises(NotFoundError):
            await txn.commit()
    assert not [i for i in gateway_table.items() if i["pk"] == "TEAM#t"]


async def test_a_change_above_one_transaction_is_written_in_parts(
    app: object, gateway_table: GatewayTable
) -> None:
    """60 keys (made without a revision, as other writers may) and their audit: 121 actions."""
    from keys import make_key

    async with asgi_client(app) as client:
        await ok(client, "/team/new", team_id="big")
        for _ in range(60):
            make_key(gateway_table, team_id="big")
        await ok(client, "/key/update", key=key_items(gateway_table)[0]["token"], rpm_limit=1)
        deleted = await ok(client, "/team/delete", team_ids=["big"])
    assert deleted == {"deleted_teams": ["big"]}
    assert not [i for i in gateway_table.items() if not i["pk"].startswith("AUDIT#")]
    actions = [i["action"] for i in gateway_table.items() if i["pk"].startswith("AUDIT#")]
    assert (actions.count("key.delete"), actions.count("team.delete")) == (60, 1)
