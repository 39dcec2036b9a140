"""Shared rate limits: the same counts hold however many app instances serve a key.

Each app instance has its own key cache and window memory, as each Lambda sandbox
does; they share one table on the AWS emulation, which applies one call at a time,
as DynamoDB applies each conditional write atomically. Clocks are injected so a
test never straddles a minute by accident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest

from keys import asgi_client, bearer, chat, make_key, make_team, make_user
from spend_helpers import spend_queue

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

WINDOW_START = 1_800_000_000 - 1_800_000_000 % 60  # a minute boundary


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def instances(count: int, clock: Callable[[], float]) -> list[Any]:
    """App instances, each with its own limiter (window memory) on the shared table."""
    from gateway.http.app import create_app
    from gateway.http.dependencies import table
    from gateway.store.limits import Limiter

    apps = []
    for _ in range(count):
        app = create_app()
        db = table()
        app.state.limiter = (db, Limiter(db, clock=clock))  # type: ignore[arg-type]
        apps.append(app)
    return apps


async def fire(apps: list[Any], key: str, total: int, **body: Any) -> list[Any]:
    """`total` requests spread round-robin over the instances, all at once."""
    responses: list[Any] = [None] * total
    clients = [asgi_client(app) for app in apps]

    async def one(i: int) -> None:
        client = clients[i % len(clients)]
        responses[i] = await client.post(
            "/v1/chat/completions", json=chat(**body), headers=bearer(key)
        )

    async with anyio.create_task_group() as tasks:
        for i in range(total):
            tasks.start_soon(one, i)
    for client in clients:
        await client.aclose()
    return responses


def statuses(responses: list[Any]) -> dict[int, int]:
    out: dict[int, int] = {}
    for response in responses:
        out[response.status_code] = out.get(response.status_code, 0) + 1
    return out


@pytest.fixture
def env(gateway_env: SimulatorApp, gateway_table: GatewayTable) -> GatewayTable:
    return gateway_table


async def test_three_instances_admit_exactly_the_rpm_in_each_window(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(env, rpm_limit=60)
    clock = Clock(WINDOW_START + 1)
    apps = instances(3, clock)
    for window in range(2):
        clock.now = WINDOW_START + 60 * window + 1
        before = len(gateway_env.requests)
        responses = await fire(apps, key, 300)
        assert statuses(responses) == {200: 60, 429: 240}
        assert len(gateway_env.requests) - before == 60
        for response in responses:
            if response.status_code == 429:
                assert 1 <= int(response.headers["retry-after"]) <= 60
                assert response.headers["x-ratelimit-limit-requests"] == "60"
                assert response.headers["x-ratelimit-remaining-requests"] == "0"
                assert response.json()["error"]["code"] == "rate_limit_exceeded"


async def test_a_window_boundary_starts_a_fresh_count(env: GatewayTable) -> None:
    key = make_key(env, rpm_limit=10)
    clock = Clock(WINDOW_START + 59.5)
    apps = instances(2, clock)
    assert statuses(await fire(apps, key, 25)) == {200: 10, 429: 15}
    clock.now = WINDOW_START + 60.2
    late = await fire(apps, key, 25)
    assert statuses(late) == {200: 10, 429: 15}
    ok = [r for r in late if r.status_code == 200]
    assert all(int(r.headers["x-ratelimit-limit-requests"]) == 10 for r in ok)


async def test_the_team_limit_binds_every_key_of_the_team(env: GatewayTable) -> None:
    make_team(env, "t", rpm_limit=7)
    first = make_key(env, team_id="t", rpm_limit=100)
    second = make_key(env, team_id="t", rpm_limit=100)
    apps = instances(2, Clock(WINDOW_START + 5))
    results = await fire(apps, first, 10) + await fire(apps, second, 10)
    assert statuses(results) == {200: 7, 429: 13}
    assert {r.headers["x-ratelimit-limit-requests"] for r in results} == {"7"}


async def test_user_limits_bind_too(env: GatewayTable) -> None:
    make_user(env, "u", rpm_limit=3)
    key = make_key(env, user_id="u")
    apps = instances(1, Clock(WINDOW_START + 5))
    assert statuses(await fire(apps, key, 6)) == {200: 3, 429: 3}


async def test_tpm_admits_while_recorded_tokens_are_under_the_limit(
    env: GatewayTable,
) -> None:
    key = make_key(env, tpm_limit=10)
    apps = instances(1, Clock(WINDOW_START + 5))
    async with asgi_client(apps[0]) as client:
        seen = []
        for _ in range(5):
            response = await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
            seen.append(response)
    used = seen[0].json()["usage"]["total_tokens"]
    assert used == 4  # "hello" -> "Echo: hello": 1 + 3 tokens
    # Pre-check on the window's recorded tokens: 0, 4, 8 are under 10; 12 is not.
    assert [r.status_code for r in seen] == [200, 200, 200, 429, 429]
    assert seen[3].headers["x-ratelimit-remaining-tokens"] == "0"
    state = limit_item(env)
    assert state["tokens"] == 12
    assert state["requests"] == 3


def limit_item(env: GatewayTable, scope: str = "key") -> dict[str, Any]:
    items = [i for i in env.items() if i["pk"].startswith(f"LIMIT#{scope}#")]
    assert len(items) == 1
    return items[0]


@pytest.mark.parametrize("stream", [False, True])
async def test_max_parallel_requests_holds_across_instances(
    env: GatewayTable, gateway_env: SimulatorApp, stream: bool
) -> None:
    key = make_key(env, max_parallel_requests=2)
    gateway_env.set_fault("stall_after_first")
    gateway_env.sim.stall_seconds = 0.5
    apps = instances(3, Clock(WINDOW_START + 5))
    responses = await fire(apps, key, 6, stream=stream)
    # Admitted requests hold their slot through the stall; a non-streamed one then gets
    # the cut body (502), a streamed one its first chunk and an error event (200).
    admitted = 200 if stream else 502
    assert statuses(responses) == {admitted: 2, 429: 4}
    for response in responses:
        if response.status_code == 429:
            assert response.headers["retry-after"] == "1"
            assert "parallel" in response.json()["error"]["message"]
    assert limit_item(env)["leases"] == {}  # every slot given back
    gateway_env.set_fault(None)
    assert statuses(await fire(apps, key, 2, stream=stream)) == {200: 2}


async def test_a_parallel_refusal_still_reports_the_requests_left(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(env, max_parallel_requests=1, rpm_limit=10)
    gateway_env.set_fault("stall_after_first")
    gateway_env.sim.stall_seconds = 0.5
    responses = await fire(instances(1, Clock(WINDOW_START + 5)), key, 2, stream=True)
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) == 1
    assert refused[0].headers["retry-after"] == "1"
    assert refused[0].headers["x-ratelimit-limit-requests"] == "10"
    assert refused[0].headers["x-ratelimit-remaining-requests"] == "9"


async def test_a_crashed_requests_slot_heals_after_its_lease(env: GatewayTable) -> None:
    from gateway.store.limit_updates import LEASE_S

    key = make_key(env, max_parallel_requests=1)
    clock = Clock(WINDOW_START + 5)
    (later,) = instances(1, clock)
    from gateway.http.dependencies import table
    from gateway.schemas.records import KeyRecord
    from gateway.store.limits import Level, Limiter

    # Another sandbox admits a request and dies: no release, no renewal.
    record = KeyRecord.from_fields(next(i for i in env.items() if i["pk"].startswith("KEY#")))
    level = Level("key", record.key_id, record.limits)
    dead = await Limiter(table(), clock=clock).admit([level], "dead-request")
    dead.renewal.cancel()  # type: ignore[union-attr]
    assert statuses(await fire([later], key, 1)) == {429: 1}
    clock.now += LEASE_S + 1
    assert statuses(await fire([later], key, 1)) == {200: 1}
    assert limit_item(env)["leases"] == {}


async def test_a_stream_the_client_leaves_gives_its_slot_back(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    import httpx

    from gateway.http.app import create_app
    from servers import serve

    key = make_key(env, max_parallel_requests=1)
    gateway_env.set_fault("stall_after_first")
    gateway_env.sim.stall_seconds = 30
    with serve(create_app()) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            async with client.stream(
                "POST", "/v1/chat/completions", json=chat(stream=True), headers=bearer(key)
            ) as response:
                assert response.status_code == 200
                async for _ in response.aiter_bytes():
                    break  # the first chunk arrived; now leave
            gateway_env.set_fault(None)
            for _ in range(100):
                if limit_item(env)["leases"] == {}:
                    break
                await anyio.sleep(0.05)
            assert limit_item(env)["leases"] == {}
            again = await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
            assert again.status_code == 200


async def test_dynamodb_failing_on_admission_is_503_and_calls_no_upstream(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(env, rpm_limit=10)
    apps = instances(1, Clock(WINDOW_START + 5))
    async with asgi_client(apps[0]) as client:
        await client.get("/v1/models", headers=bearer(key))  # the key is cached now
        env.emulation.faults["UpdateItem"] = "throttle"
        response = await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert gateway_env.requests == []


async def test_admission_is_one_write_with_a_warm_key_cache(
    env: GatewayTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path's AWS calls: one conditional write, then the spend event's one send."""
    from gateway.billing import outbox

    spend_queue(env, monkeypatch)
    make_team(env, "t", rpm_limit=100)
    single = make_key(env, rpm_limit=50)
    teamed = make_key(env, rpm_limit=50, team_id="t")
    apps = instances(1, Clock(WINDOW_START + 5))
    async with asgi_client(apps[0]) as client:
        for key in (single, teamed):
            await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
            await outbox.settle()
            env.emulation.calls.clear()
            response = await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
            assert response.status_code == 200
            await outbox.settle()  # the spend event leaves after the answer
            expected = "UpdateItem" if key == single else "TransactWriteItems"
            assert env.emulation.calls == [expected, "SendMessage"]
