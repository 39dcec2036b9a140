"""Who may call the admin API: the master key only.

Every admin route x every credential: the master key gets through (whatever the
route then says about its body), a valid virtual key (a team's, a user's) is 403,
and missing, empty, malformed, repeated or unknown credentials are 401. Keys are
made through the API itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conftest import MASTER_KEY
from keys import asgi_client, bearer

if TYPE_CHECKING:
    import httpx

    from conftest import GatewayTable

pytestmark = pytest.mark.anyio

ROUTES = [
    ("POST", "/key/generate"),
    ("POST", "/key/update"),
    ("GET", "/key/info"),
    ("GET", "/key/list"),
    ("POST", "/key/delete"),
    ("POST", "/key/block"),
    ("POST", "/key/unblock"),
    ("POST", "/key/regenerate"),
    ("POST", "/key/sk-gw-someone/regenerate"),
    ("POST", "/team/new"),
    ("POST", "/team/update"),
    ("GET", "/team/info"),
    ("GET", "/team/list"),
    ("POST", "/team/delete"),
    ("POST", "/user/new"),
    ("POST", "/user/update"),
    ("GET", "/user/info"),
    ("GET", "/user/list"),
    ("POST", "/user/delete"),
    ("GET", "/spend/logs"),
    ("GET", "/spend/tags"),
    ("GET", "/global/spend/report"),
]

CREDENTIALS = ["master", "team key", "user key", "garbage", "unknown key", "empty", "none", "two"]


def test_the_matrix_covers_every_admin_route() -> None:
    from gateway.http.admin import routes

    served = {(m, r.path) for r in routes for m in r.methods or () if m != "HEAD"}
    called = {(m, p.replace("sk-gw-someone", "{key}")) for m, p in ROUTES}
    assert served == called


async def _keys(client: httpx.AsyncClient) -> dict[str, str]:
    master = bearer(MASTER_KEY)
    assert (await client.post("/team/new", json={"team_id": "t"}, headers=master)).is_success
    team = await client.post("/key/generate", json={"team_id": "t"}, headers=master)
    user = await client.post("/user/new", json={"user_id": "u"}, headers=master)
    return {"team key": team.json()["key"], "user key": user.json()["key"]}


def _headers(credential: str, made: dict[str, str]) -> list[tuple[str, str]]:
    return {
        "master": [("authorization", f"Bearer {MASTER_KEY}")],
        "team key": [("authorization", f"Bearer {made['team key']}")],
        "user key": [("authorization", f"Bearer {made['user key']}")],
        "garbage": [("authorization", "Basic bWFzdGVyOmtleQ==")],
        "unknown key": [("authorization", "Bearer sk-gw-" + "x" * 43)],
        "empty": [("authorization", "Bearer ")],
        "none": [],
        "two": [
            ("authorization", f"Bearer {MASTER_KEY}"),
            ("authorization", f"Bearer {MASTER_KEY}"),
        ],
    }[credential]


@pytest.mark.parametrize("credential", CREDENTIALS)
async def test_only_the_master_key_passes(
    gateway_env: object, gateway_table: GatewayTable, credential: str
) -> None:
    from gateway.http.app import create_admin_app

    async with asgi_client(create_admin_app()) as client:
        made = await _keys(client)
        headers = _headers(credential, made)
        before = len(gateway_table.items())
        for method, path in ROUTES:
            request = client.build_request(method, path, json={}, headers=headers)
            response = await client.send(request)
            body = response.json()
            status = response.status_code
            code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
            if credential == "master":
                assert status not in (401, 403), (method, path, response.text)
            elif credential in ("team key", "user key"):
                assert (status, code) == (403, "permission_denied"), (method, path)
            else:
                assert (status, code) == (401, "invalid_api_key"), (method, path)
        if credential != "master":
            assert len(gateway_table.items()) == before  # nothing written
