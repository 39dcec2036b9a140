"""Budgets end to end: reservation at admission, spend events through SQS, settlement.

The gateway apps, the spend queue and the table share the AWS emulation (one call at
a time, as DynamoDB applies each write atomically); the spend function's consumer is
run between bursts, so each burst sees exactly the allowance the previous ones left.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from keys import asgi_client, bearer, chat, make_key, make_team
from spend_helpers import budget_item, drain, ledger

if TYPE_CHECKING:
    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

PROMPT = "one two three four five six seven"  # the simulator answers 10 output tokens
ACTUAL = 10_000  # 10 tokens at $0.001
MAX_TOKENS = 19


@pytest.fixture
def env(spend_env: GatewayTable) -> GatewayTable:
    return spend_env


def worst_case() -> int:
    """What the gateway reserves for one request of these tests."""
    from gateway.http.dependencies import _load_config
    from gateway.schemas.openai import ChatCompletionRequest
    from gateway.spend.estimate import worst_case_micros

    config = _load_config()
    body = chat("metered", PROMPT, max_tokens=MAX_TOKENS)
    raw = json.dumps(body).encode()
    request = ChatCompletionRequest.model_validate(body)
    return worst_case_micros(len(raw), request, config.groups["metered"])


async def burst(
    apps: list[Any], key: str, total: int, failing: frozenset[int] = frozenset()
) -> list[Any]:
    """`total` requests at once over the instances; those numbered in `failing` get a 500
    from the provider (the simulator drops its marker: the answer's size is the same)."""
    responses: list[Any] = [None] * total
    clients = [asgi_client(app) for app in apps]

    async def one(i: int) -> None:
        prompt = f"{PROMPT} [sim-fault:500]" if i in failing else PROMPT
        body = chat("metered", prompt, max_tokens=MAX_TOKENS)
        raw = json.dumps(body).encode()  # the same bytes worst_case() measured
        responses[i] = await clients[i % len(clients)].post(
            "/v1/chat/completions",
            content=raw,
            headers={**bearer(key), "content-type": "application/json"},
        )

    async with anyio.create_task_group() as tasks:
        for i in range(total):
            tasks.start_soon(one, i)
    for client in clients:
        await client.aclose()
    return responses


async def test_200_concurrent_requests_never_overshoot_a_one_dollar_budget(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    from gateway.http.app import create_app

    budget = 1_000_000
    key = make_key(env, key_alias="burst", max_budget_micros=budget, budget_duration="30d")
    worst = worst_case()
    assert 2 * ACTUAL - 1_000 <= worst <= 2 * ACTUAL  # about $0.02 against $0.01 spent
    apps = [create_app() for _ in range(4)]
    remaining, spent, served = budget, 0, 0
    while True:
        before = len(gateway_env.requests)
        responses = await burst(apps, key, 200)
        ok = [r for r in responses if r.status_code == 200]
        refused = [r for r in responses if r.status_code != 200]
        # no false denial: exactly as many as the allowance could reserve were admitted
        assert len(ok) == min(200, remaining // worst)
        assert len(gateway_env.requests) - before == len(ok)  # refused ones never went out
        for response in refused:
            assert response.status_code == 429
            assert response.json()["error"]["type"] == "budget_exceeded"
        await drain(env)
        served += len(ok)
        spent += len(ok) * ACTUAL
        remaining = budget - spent
        item = budget_item(env, "key", key)
        assert item["spent"] == spent <= budget
        assert item["reserved"] == 0
        assert not any(item["holds"].values())  # every slot settled
        assert item["remaining"] == remaining
        if not ok:
            break
    assert remaining < worst  # the budget was used until no reservation could fit
    assert len(ledger(env)) == served


async def test_the_tightest_budget_binds_and_a_refusal_never_calls_the_provider(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    from gateway.http.app import create_app

    worst = worst_case()
    make_team(env, "t", max_budget_micros=worst * 3)
    first = make_key(env, team_id="t", max_budget_micros=worst * 100)
    second = make_key(env, team_id="t", max_budget_micros=worst * 100)
    app = create_app()
    results = await burst([app], first, 2) + await burst([app], second, 2)
    assert sorted(r.status_code for r in results) == [200, 200, 200, 429]
    refused = next(r for r in results if r.status_code == 429)
    assert "Team budget" in refused.json()["error"]["message"]
    assert len(gateway_env.requests) == 3
    await drain(env)
    assert budget_item(env, "team", "t")["spent"] == 3 * ACTUAL


async def test_throttling_and_provider_failures_never_overshoot_or_leak(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    """The burst again on 4 instances, with 10% of the admission writes throttled past
    their retries' first attempt and 5% of the requests failing at the provider."""
    from gateway.http.app import create_app

    budget = 500_000
    key = make_key(env, max_budget_micros=budget)
    apps = [create_app() for _ in range(4)]
    env.emulation.inject("UpdateItem", "throttle", times=20)
    failing = frozenset(range(0, 200, 20))
    responses = await burst(apps, key, 200, failing)
    codes = sorted({r.status_code for r in responses})
    assert set(codes) <= {200, 429, 502, 503}, codes
    served = sum(1 for r in responses if r.status_code == 200)
    assert served > 0
    await drain(env)
    item = budget_item(env, "key", key)
    assert item["spent"] == served * ACTUAL <= budget
    assert item["reserved"] == 0
    assert not any(item["holds"].values())
    assert item["remaining"] == budget - served * ACTUAL
    assert len(ledger(env)) == sum(1 for r in responses if r.status_code in (200, 502))
