"""Canary scan: a virtual key's plaintext appears only in the answer that creates it.

Keys are generated through the admin API and then used everywhere (successes, 401,
403, 429, admin reads that name the key, rotation), with every logger at DEBUG. The
plaintext must then be absent from every later response body and header, from every
log line (before any redaction), from every item in the table (audit trail included)
and from every request the providers received.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from conftest import MASTER_KEY
from keys import asgi_client, bearer, chat

if TYPE_CHECKING:
    import httpx

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

MASTER = bearer(MASTER_KEY)


def text_of(response: httpx.Response) -> str:
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code} {headers} {response.text}"


async def test_no_plaintext_key_survives_anywhere(
    gateway_env: SimulatorApp,
    gateway_table: GatewayTable,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.config import settings
    from gateway.http.app import create_local_app

    monkeypatch.setenv("GATEWAY_KEY_CACHE_S", "0")  # a block is seen at once: 401s too
    settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []  # everything a client saw after the keys were created
    keys: list[str] = []
    async with asgi_client(create_local_app()) as client:

        async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
            response = await client.request(method, url, **kwargs)
            seen.append(text_of(response))
            return response

        async def create(url: str, body: dict[str, Any]) -> str:
            response = await client.post(url, json=body, headers=MASTER)  # shown once: not seen
            assert response.status_code == 200, response.text
            key = str(response.json()["key"])
            keys.append(key)
            return key

        await call(
            "POST", "/team/new", json={"team_id": "canary-team", "rpm_limit": 3}, headers=MASTER
        )
        team_key = await create(
            "/key/generate", {"team_id": "canary-team", "models": ["gpt-4o-mini"]}
        )
        user_key = await create("/user/new", {"user_id": "canary-user"})
        for key in (team_key, user_key):
            for body in (chat(), chat(stream=True), chat(model="claude-3-5-haiku")):
                await call("POST", "/v1/chat/completions", json=body, headers=bearer(key))
            await call("GET", "/v1/models", headers=bearer(key))
            await call("GET", "/key/list", headers=bearer(key))  # 403
            await call("GET", "/key/info", params={"key": key}, headers=MASTER)
            await call(
                "POST", "/key/update", json={"key": key, "metadata": {"n": 1}}, headers=MASTER
            )
            await call("POST", "/key/block", json={"key": key}, headers=MASTER)
            await call("POST", "/v1/chat/completions", json=chat(), headers=bearer(key))  # 401
            await call("POST", "/key/unblock", json={"key": key}, headers=MASTER)
        for _ in range(4):  # past the team's rpm: 429s
            await call("POST", "/v1/chat/completions", json=chat(), headers=bearer(team_key))
        rotated = await client.post(
            "/key/regenerate", json={"key": team_key, "grace_period": "1h"}, headers=MASTER
        )
        assert rotated.status_code == 200, rotated.text
        keys.append(str(rotated.json()["key"]))
        await call("GET", "/key/list", params={"return_full_object": "true"}, headers=MASTER)
        await call("GET", "/team/info", params={"team_id": "canary-team"}, headers=MASTER)
        await call("GET", "/user/info", params={"user_id": "canary-user"}, headers=MASTER)
        await call("POST", "/key/delete", json={"keys": [keys[-1]]}, headers=MASTER)

    assert any(s.startswith("429") for s in seen)
    assert any(s.startswith("200") for s in seen)
    assert any(s.startswith("401") for s in seen)
    places = {
        "responses": "\n".join(seen),
        "logs": "\n".join(
            f"{r.getMessage()} {r.args!r} {r.exc_text or ''}"
            for r in caplog.records
            if "http://gateway/" not in r.getMessage()  # this test's own client, not ours
        ),
        "table": repr(gateway_table.items()),
        "upstream": repr(gateway_env.requests),
    }
    assert gateway_table.items(), "the scan must see the table"
    for key in keys:
        for place, text in places.items():
            assert key not in text, f"a plaintext key leaked into {place}"
            assert key[6:] not in text, f"a key's secret part leaked into {place}"
