"""Headers, cost, the parameter policy, timeouts and disconnects, end to end."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conftest import MASTER_KEY, OPENAI_KEY

if TYPE_CHECKING:
    from gateway.local.simulator import SimulatorApp

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def ask(
    client: httpx.Client, model: str, text: str, *, stream: bool = False, **extra: Any
) -> httpx.Response:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]}
    return client.post("/v1/chat/completions", headers=AUTH, json=body | extra)


@pytest.fixture
def client(gateway_url: str) -> httpx.Client:
    with httpx.Client(base_url=gateway_url, timeout=20) as c:
        yield c  # type: ignore[misc]


def test_cost_header_uses_the_model_info_override(client: httpx.Client) -> None:
    response = ask(client, "priced", "one two three")
    assert response.status_code == 200
    usage = response.json()["usage"]
    expected = usage["prompt_tokens"] * 0.001 + usage["completion_tokens"] * 0.002
    assert response.headers["x-gateway-cost-usd"] == f"{expected:.6f}"
    assert response.headers["x-request-id"] in response.json()["id"]
    assert response.headers["x-gateway-provider"] == "openai"


def test_cost_header_uses_genai_prices(client: httpx.Client) -> None:
    response = ask(client, "gpt-4o-mini", "one two three")
    usage = response.json()["usage"]
    # gpt-4o-mini: $0.15 / MTok in, $0.60 / MTok out
    micros = round(usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.60)
    assert response.headers["x-gateway-cost-usd"] == f"{micros / 1e6:.6f}"


def test_stream_cost_arrives_as_a_comment_before_done(client: httpx.Client) -> None:
    response = ask(client, "priced", "a b", stream=True, stream_options={"include_usage": True})
    lines = [line for line in response.text.split("\n\n") if line]
    assert lines[-1] == "data: [DONE]"
    usage = json.loads(lines[-3].removeprefix("data: "))["usage"]
    expected = usage["prompt_tokens"] * 0.001 + usage["completion_tokens"] * 0.002
    assert lines[-2] == f": x-gateway-cost-usd={expected:.6f}"
    assert "x-gateway-cost-usd" not in response.headers


def test_openai_upstream_gets_params_as_sent(
    client: httpx.Client, gateway_env: SimulatorApp
) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "x"}],
        "logprobs": True,
        "top_logprobs": 2,
        "frequency_penalty": 0.5,
        "vendor_knob": {"a": 1},
        "metadata": {"tags": ["team-a"]},
        "stream": True,
    }
    response = client.post("/v1/chat/completions", headers=AUTH, json=body)
    assert response.status_code == 200
    sent = gateway_env.requests[-1]["json"]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["logprobs"] is True
    assert sent["top_logprobs"] == 2
    assert sent["frequency_penalty"] == 0.5
    assert sent["vendor_knob"] == {"a": 1}
    assert "metadata" not in sent
    assert sent["stream_options"] == {"include_usage": True}
    assert gateway_env.requests[-1]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert "x-gateway-dropped-params" not in response.headers


@pytest.mark.parametrize("model", ["claude-3-5-haiku", "bedrock-claude"])
def test_translated_dialect_names_dropped_knobs(
    client: httpx.Client, gateway_env: SimulatorApp, model: str
) -> None:
    response = client.post(
        "/v1/chat/completions",
        headers=AUTH,
        json={
            "model": model,
            "messages": [{"role": "user", "content": "x"}],
            "seed": 7,
            "frequency_penalty": 0.3,
            "temperature": 0.5,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-dropped-params"] == "frequency_penalty,seed"
    sent = gateway_env.requests[-1]["json"]
    assert "seed" not in json.dumps(sent)
    assert "frequency_penalty" not in json.dumps(sent)


def test_client_headers_are_never_forwarded(
    client: httpx.Client, gateway_env: SimulatorApp
) -> None:
    client.post(
        "/v1/chat/completions",
        headers={**AUTH, "x-sim-fault": "500", "x-api-key": "k"},
        json={"model": "claude-3-5-haiku", "messages": [{"role": "user", "content": "x"}]},
    )
    received = gateway_env.requests[-1]["headers"]
    assert "x-sim-fault" not in received
    assert received.get("x-api-key") != "k"
    assert MASTER_KEY not in json.dumps(received)


def test_upstream_timeout_is_504(client: httpx.Client, gateway_env: SimulatorApp) -> None:
    gateway_env.set_fault("timeout")
    start = time.monotonic()
    response = ask(client, "one-second", "x")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - start < 5


def test_stream_stall_after_first_chunk_ends_with_error_event(
    client: httpx.Client, gateway_env: SimulatorApp
) -> None:
    gateway_env.set_fault("stall_after_first")
    start = time.monotonic()
    response = ask(client, "one-second", "x", stream=True)
    assert response.status_code == 200
    last = [line for line in response.text.split("\n\n") if line][-1]
    assert json.loads(last.removeprefix("data: "))["error"]["code"] == "upstream_timeout"
    assert "[DONE]" not in response.text
    assert time.monotonic() - start < 5


def test_client_disconnect_closes_the_upstream_stream(
    gateway_url: str, gateway_env: SimulatorApp
) -> None:
    gateway_env.set_fault("stall_after_first")
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with (
        httpx.Client(base_url=gateway_url, timeout=20) as client,
        client.stream("POST", "/v1/chat/completions", headers=AUTH, json=body) as response,
    ):
        first = next(response.iter_raw())
        assert first.startswith(b"data: ")
    # The simulator's stall ends when its client (the gateway) goes away.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and gateway_env.sim.open_streams:
        time.sleep(0.05)
    assert gateway_env.sim.open_streams == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_bug_is_a_generic_500_with_request_id(
    gateway_url: str, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    from gateway import completions

    def broken(*_args: object) -> int:
        raise RuntimeError(f"boom with {OPENAI_KEY} inside")

    monkeypatch.setattr(completions, "cost_micros", broken)
    with httpx.Client(base_url=gateway_url, timeout=20) as client:
        response = ask(client, "gpt-4o-mini", "x", stream=stream)
    assert OPENAI_KEY not in response.text
    assert "Traceback" not in response.text
    assert "boom" not in response.text
    if stream:
        assert response.status_code == 200
        last = [line for line in response.text.split("\n\n") if line][-1]
        assert json.loads(last.removeprefix("data: "))["error"]["code"] == "internal_error"
    else:
        assert response.status_code == 500
        assert response.json()["error"] == {
            "message": "The gateway failed; retry later.",
            "type": "api_error",
            "param": None,
            "code": "internal_error",
        }
        assert response.headers["x-request-id"]


def test_a_silent_stream_sends_keep_alive_comments(
    client: httpx.Client, gateway_env: SimulatorApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.config import settings

    monkeypatch.setenv("GATEWAY_SSE_KEEPALIVE_S", "0.2")
    settings.cache_clear()
    gateway_env.set_fault("stall_after_first")
    response = ask(client, "one-second", "x", stream=True)
    settings.cache_clear()
    blocks = [block for block in response.text.split("\n\n") if block]
    assert blocks[0].startswith("data: ")
    assert blocks.count(": keep-alive") >= 3  # 1 s of silence, one every 0.2 s
    assert json.loads(blocks[-1].removeprefix("data: "))["error"]["code"] == "upstream_timeout"
