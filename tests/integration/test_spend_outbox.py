"""Spend events leave the request path (gateway/billing/outbox.py): the client has its
whole answer before its event is sent, and over many requests, clients that leave
mid-stream included, every event reaches the ledger exactly once, the last ones on the
server's shutdown (what Lambda's SIGTERM runs)."""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from keys import asgi_client, bearer, chat, make_key
from spend_helpers import drain, ledger

if TYPE_CHECKING:
    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio
REQUESTS = 1_000
CONCURRENCY = 20


@pytest.fixture
def env(spend_env: GatewayTable) -> GatewayTable:
    return spend_env


async def test_the_answer_does_not_wait_for_its_spend_event(
    env: GatewayTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.billing import outbox
    from gateway.billing.emit import SpendEmitter
    from gateway.http.app import create_app

    gate = asyncio.Event()
    sent: list[str] = []
    deliver = SpendEmitter.emit

    async def held(self: SpendEmitter, event: object) -> None:
        await gate.wait()  # SQS as slow as it likes
        await deliver(self, event)  # type: ignore[arg-type]
        sent.append(event.request_id)  # type: ignore[attr-defined]

    monkeypatch.setattr(SpendEmitter, "emit", held)
    key = make_key(env)
    async with asgi_client(create_app()) as client:
        plain = await client.post("/v1/chat/completions", json=chat("metered"), headers=bearer(key))
        streamed = await client.post(
            "/v1/chat/completions", json=chat("metered", stream=True), headers=bearer(key)
        )
    assert plain.status_code == streamed.status_code == 200
    assert streamed.text.rstrip().endswith("data: [DONE]")
    assert sent == []  # both answers are whole; neither event has gone
    gate.set()
    await outbox.settle()
    assert sorted(sent) == sorted(r.headers["x-request-id"] for r in (plain, streamed))
    assert await drain(env) == 2


async def test_no_event_is_lost_or_doubled_over_many_requests_and_departures(
    env: GatewayTable, gateway_env: SimulatorApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.config import settings
    from gateway.http.app import create_app
    from servers import serve

    # 20 clients at once build a backlog a Lambda sandbox (one request at a time) never
    # has; the emulated SQS is slow: give the shutdown time to deliver all of it.
    monkeypatch.setenv("GATEWAY_SPEND_FLUSH_S", "30")
    settings.cache_clear()

    key = make_key(env)
    ids: list[str] = []

    async def one(client: httpx.AsyncClient, i: int) -> None:
        if i % 4 == 0:  # a stream the client leaves after its first bytes
            # Half stall after their first delta (the client surely leaves mid-stream);
            # half race their end (the client may leave after the last byte).
            text = "leave me [sim-fault:stall_after_first]" if i % 8 == 0 else "leave me"
            body = chat("metered", f"{text} [sim-chunks:20]", stream=True)
            async with client.stream(
                "POST", "/v1/chat/completions", json=body, headers=bearer(key)
            ) as response:
                ids.append(response.headers["x-request-id"])
                async for _ in response.aiter_bytes():
                    break
            return
        response = await client.post(
            "/v1/chat/completions", json=chat("metered", max_tokens=20), headers=bearer(key)
        )
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-request-id"])

    with serve(create_app()) as url:  # its exit is the graceful shutdown: settle()
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            gate = anyio.Semaphore(CONCURRENCY)

            async def bounded(i: int) -> None:
                async with gate:
                    await one(client, i)

            async with anyio.create_task_group() as tasks:
                for i in range(REQUESTS):
                    tasks.start_soon(bounded, i)
    assert len(set(ids)) == REQUESTS
    assert await drain(env) == REQUESTS
    assert await drain(env) == 0
    items = ledger(env)
    assert sorted(item["request_id"] for item in items) == sorted(ids)
    left = [item for item in items if item["status"] == "failure"]
    assert len(left) >= REQUESTS // 8  # every stalled stream, and any left in its race
    assert {item["error_code"] for item in left} == {"client_disconnected"}


async def test_the_shutdown_delivers_what_a_sandbox_still_holds_in_time(
    env: GatewayTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sandbox frozen right after its answer, before its event went, then shut down:
    SIGTERM runs the lifespan shutdown, which delivers the held event within
    GATEWAY_SPEND_FLUSH_S (0.25 s by default)."""
    from gateway.billing.outbox import SpendOutbox
    from gateway.config import settings
    from gateway.http.app import create_app

    assert settings().spend_flush_s == 0.25

    def frozen(self: SpendOutbox, event: object) -> None:
        self.loop = asyncio.get_running_loop()
        self.waiting.append(event)  # type: ignore[arg-type]  # held; delivery never started

    monkeypatch.setattr(SpendOutbox, "put", frozen)
    key = make_key(env)
    app = create_app()
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        response = await client.post(
            "/v1/chat/completions", json=chat("metered"), headers=bearer(key)
        )
        assert response.status_code == 200
        (_, held) = app.state.spend
        assert len(held.waiting) == 1  # nothing has gone yet
    assert held.waiting == collections.deque()  # the shutdown delivered it
    assert await drain(env) == 1
