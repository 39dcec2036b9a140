"""One spend event per admitted request, however it ends, and none lost when SQS fails.

Each test sends requests through the gateway, runs the spend consumer on the queue,
and reads the ledger (one item per request id) and the aggregates it wrote.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from keys import asgi_client, bearer, chat, make_key, make_team
from servers import serve
from spend_helpers import budget_item, drain, ledger

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

PROMPT = "one two three four five six seven"  # the simulator answers 10 output tokens


@pytest.fixture
def env(spend_env: GatewayTable) -> GatewayTable:
    return spend_env


def by_id(env: GatewayTable) -> dict[str, dict[str, Any]]:
    return {item["request_id"]: item for item in ledger(env)}


async def test_a_completed_request_is_charged_once_with_its_usage(env: GatewayTable) -> None:
    from gateway.http.app import create_app

    make_team(env, "t")
    key = make_key(env, key_alias="svc", team_id="t", user_id="u")
    body = chat("metered", PROMPT, metadata={"tags": ["prod", "chat"]}, user="end-7")
    async with asgi_client(create_app()) as client:
        response = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
        streamed = await client.post(
            "/v1/chat/completions", json={**body, "stream": True}, headers=bearer(key)
        )
    assert response.status_code == streamed.status_code == 200
    assert await drain(env) == 2
    logs = by_id(env)
    assert set(logs) == {response.headers["x-request-id"], streamed.headers["x-request-id"]}
    for item in logs.values():
        assert item["spend_micros"] == 10_000
        assert (item["prompt_tokens"], item["completion_tokens"]) == (9, 10)
        assert item["status"] == "success"
        assert item["key_alias"] == "svc"
        assert (item["team_id"], item["user_id"], item["end_user"]) == ("t", "u", "end-7")
        assert item["tags"] == ["prod", "chat"]
        assert item["model_group"] == "metered"
        assert item["provider"] == "openai"
        assert item["attempts"] == item["billed_attempts"] == 1
        assert item["usage_estimated"] is False
        assert item["api_key"] != key  # the hash, never the key
        assert len(item["api_key"]) == 64
    assert logs[streamed.headers["x-request-id"]]["stream"] is True


async def test_a_failed_request_is_logged_at_no_cost_and_gives_its_hold_back(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    from gateway.http.app import create_app

    key = make_key(env, max_budget_micros=1_000_000)
    gateway_env.set_fault("500")
    async with asgi_client(create_app()) as client:
        response = await client.post(
            "/v1/chat/completions", json=chat("metered", PROMPT, max_tokens=19), headers=bearer(key)
        )
    assert response.status_code == 502
    await drain(env)
    (item,) = ledger(env)
    assert (item["status"], item["status_code"], item["spend_micros"]) == ("failure", 502, 0)
    assert item["error_code"] == "upstream_error"
    budget = budget_item(env, "key", key)
    assert (budget["remaining"], budget["reserved"]) == (1_000_000, 0)
    assert not any(budget["holds"].values())


async def test_a_cache_hit_is_logged_at_no_cost(
    env: GatewayTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import os

    import boto3

    from gateway.http import dependencies
    from gateway.http.app import create_app

    path = tmp_path / "metered.yaml"
    config = json.loads(path.read_text())
    config["litellm_settings"] = {"cache": True, "cache_params": {"type": "s3"}}
    path.write_text(json.dumps(config))
    s3 = boto3.client("s3", endpoint_url=env.emulation.url, region_name="us-east-1")
    bucket = f"cache-{os.urandom(6).hex()}"
    s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("GATEWAY_CACHE_BUCKET", bucket)
    dependencies.reset()
    key = make_key(env)
    app = create_app()
    async with asgi_client(app) as client:
        first = await client.post(
            "/v1/chat/completions", json=chat("metered", PROMPT), headers=bearer(key)
        )
        await asyncio.gather(*getattr(app.state, "cache_writes", ()))  # the entry is written
        second = await client.post(
            "/v1/chat/completions", json=chat("metered", PROMPT), headers=bearer(key)
        )
    assert second.headers["x-gateway-cache"] == "hit"
    assert await drain(env) == 2
    logs = by_id(env)
    assert logs[first.headers["x-request-id"]]["spend_micros"] == 10_000
    hit = logs[second.headers["x-request-id"]]
    assert (hit["cache_hit"], hit["spend_micros"], hit["status"]) == (True, 0, "success")


@pytest.mark.parametrize("how", ["client_left", "provider_cut"])
async def test_a_stream_cut_short_is_billed_once_for_what_it_consumed(
    env: GatewayTable, gateway_env: SimulatorApp, how: str
) -> None:
    from gateway.http.app import create_app

    key = make_key(env, max_budget_micros=1_000_000)
    body = chat("metered", f"{PROMPT} [sim-chunks:8]", max_tokens=19, stream=True)
    if how == "client_left":
        gateway_env.set_fault("stall_after_first")
        with serve(create_app()) as url:
            with (
                httpx.Client(base_url=url, timeout=20) as client,
                client.stream(
                    "POST", "/v1/chat/completions", json=body, headers=bearer(key)
                ) as response,
            ):
                assert next(response.iter_raw()).startswith(b"data: ")
            deadline = time.monotonic() + 5  # the gateway notices the client left
            while time.monotonic() < deadline and gateway_env.sim.open_streams:
                time.sleep(0.05)
            time.sleep(0.3)
    else:
        gateway_env.set_fault("truncate")
        async with asgi_client(create_app()) as client:
            response = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
        assert b'"error"' in response.content
    assert await drain(env) == 1
    (item,) = ledger(env)
    assert item["status"] == "failure"
    assert item["error_code"] == (
        "client_disconnected" if how == "client_left" else "upstream_error"
    )
    assert item["usage_estimated"] is True
    assert 1 <= item["completion_tokens"] < 10  # the partial output, not the whole answer
    assert item["prompt_tokens"] > 0
    assert item["spend_micros"] == item["completion_tokens"] * 1_000
    budget = budget_item(env, "key", key)
    assert budget["spent"] == item["spend_micros"]
    assert budget["reserved"] == 0
    assert not any(budget["holds"].values())


async def test_sqs_down_loses_nothing(env: GatewayTable) -> None:
    from gateway.http.app import create_app

    key = make_key(env, max_budget_micros=1_000_000)
    emulation = env.emulation
    app = create_app()
    sent: list[str] = []
    async with asgi_client(app) as client:

        async def ask() -> None:
            response = await client.post(
                "/v1/chat/completions",
                json=chat("metered", PROMPT, max_tokens=19),
                headers=bearer(key),
            )
            assert response.status_code == 200
            sent.append(response.headers["x-request-id"])

        await ask()  # through the queue
        emulation.faults["SendMessage"] = "unavailable"
        await ask()  # SQS down: applied directly
        emulation.faults["TransactWriteItems"] = "unavailable"
        await ask()  # both down: kept in memory, and the client still gets its answer
        await ask()
        emulation.faults.clear()
        await ask()  # recovered: this one and the two kept are delivered
    assert await drain(env) >= 1
    assert set(by_id(env)) == set(sent)
    budget = budget_item(env, "key", key)
    assert budget["spent"] == 5 * 10_000
    assert budget["reserved"] == 0
    assert not any(budget["holds"].values())


async def test_a_cut_anthropic_stream_keeps_the_providers_own_input_count(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    """Anthropic reports the input in message_start: a cut stream is charged that count,
    and only its output is the gateway's estimate."""
    from gateway.http.app import create_app

    key = make_key(env)
    gateway_env.set_fault("stall_after_first")
    body = chat("claude-3-5-haiku", PROMPT, max_tokens=19, stream=True)
    with (
        serve(create_app()) as url,
        httpx.Client(base_url=url, timeout=20) as client,
    ):
        with client.stream("POST", "/v1/chat/completions", json=body, headers=bearer(key)) as r:
            assert next(r.iter_raw()).startswith(b"data: ")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and gateway_env.sim.open_streams:
            time.sleep(0.05)
        time.sleep(0.3)
    assert await drain(env) == 1
    (item,) = ledger(env)
    assert item["provider"] == "anthropic"
    assert item["prompt_tokens"] == 9  # the simulator's count for the prompt, not a guess
    assert 1 <= item["completion_tokens"] <= 19
    assert item["usage_estimated"] is True
    assert item["spend_micros"] > 0
