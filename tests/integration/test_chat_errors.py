"""Bad input, bad credentials and upstream faults, through the HTTP app against the simulator.

Every failure is an OpenAI-shaped error with the right status and an x-request-id,
bad input never reaches the upstream, and no upstream body or key leaks.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from conftest import ANTHROPIC_KEY, MASTER_KEY, OPENAI_KEY

if TYPE_CHECKING:
    from gateway.local.simulator import SimulatorApp

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
MODELS = ["gpt-4o-mini", "claude-3-5-haiku", "bedrock-claude"]


def chat(model: str = "gpt-4o-mini", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def assert_error(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, MASTER_KEY, "Traceback"):
        assert secret not in response.text
    return dict(error)


@pytest.fixture
def client(gateway_url: str) -> httpx.Client:
    with httpx.Client(base_url=gateway_url, timeout=20) as c:
        yield c  # type: ignore[misc]


# ---- bad input: 4xx, and the upstream is never called ----------------------------------

BAD_BODIES: list[tuple[str, bytes, int, str, str | None]] = [
    ("malformed", b'{"model": "gpt-4o-mini", "messages": [', 400, "invalid_json", None),
    ("empty", b"", 400, "invalid_json", None),
    ("not an object", b"[1, 2]", 400, "invalid_json", None),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json", None),
    (
        "no model",
        json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(),
        400,
        "invalid_value",
        "model",
    ),
    (
        "no messages",
        json.dumps({"model": "gpt-4o-mini"}).encode(),
        400,
        "invalid_value",
        "messages",
    ),
    (
        "empty messages",
        json.dumps({"model": "gpt-4o-mini", "messages": []}).encode(),
        400,
        "invalid_value",
        "messages",
    ),
    (
        "wrong type",
        json.dumps(chat(temperature="hot")).encode(),
        400,
        "invalid_value",
        "temperature",
    ),
    ("out of range", json.dumps(chat(temperature=3)).encode(), 400, "invalid_value", "temperature"),
    (
        "bad role",
        json.dumps(
            {"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}
        ).encode(),
        400,
        "invalid_value",
        "messages[0]",
    ),
    (
        "bad content",
        json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 5}]}).encode(),
        400,
        "invalid_value",
        "messages[0].content",
    ),
    ("unknown model", json.dumps(chat(model="gpt-9")).encode(), 404, "model_not_found", "model"),
    (
        "api_base",
        json.dumps(chat(api_base="http://127.0.0.1:9")).encode(),
        400,
        "unsupported_parameter",
        "api_base",
    ),
    (
        "nested api_key",
        json.dumps(chat(metadata={"x": {"api_key": "k"}})).encode(),
        400,
        "unsupported_parameter",
        "metadata.x.api_key",
    ),
    (
        "extra_headers in message",
        json.dumps(
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "x", "extra_headers": {"a": "b"}}],
            }
        ).encode(),
        400,
        "unsupported_parameter",
        "messages[0].extra_headers",
    ),
    (
        "aws override",
        json.dumps(chat(aws_region_name="eu-west-1")).encode(),
        400,
        "unsupported_parameter",
        "aws_region_name",
    ),
    (
        "n for translated",
        json.dumps(chat(model="claude-3-5-haiku", n=2)).encode(),
        400,
        "unsupported_parameter",
        "n",
    ),
    (
        "structural for translated",
        json.dumps(chat(model="bedrock-claude", logprobs=True)).encode(),
        400,
        "unsupported_parameter",
        "logprobs",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "code", "param"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
def test_bad_input_is_a_4xx_and_calls_no_upstream(
    client: httpx.Client,
    gateway_env: SimulatorApp,
    case: str,
    body: bytes,
    status: int,
    code: str,
    param: str | None,
) -> None:
    response = client.post(
        "/v1/chat/completions", content=body, headers={**AUTH, "content-type": "application/json"}
    )
    assert_error(response, status, code, param)
    assert gateway_env.requests == []


def test_query_string_override_is_rejected(client: httpx.Client, gateway_env: SimulatorApp) -> None:
    response = client.post(
        "/v1/chat/completions?api_base=http://127.0.0.1:9", json=chat(), headers=AUTH
    )
    assert_error(response, 400, "unsupported_parameter", "api_base")
    assert gateway_env.requests == []


def test_tool_schema_may_name_its_own_base_url(client: httpx.Client) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "fetch",
            "parameters": {"type": "object", "properties": {"base_url": {"type": "string"}}},
        },
    }
    response = client.post("/v1/chat/completions", json=chat(tools=[tool]), headers=AUTH)
    assert response.status_code == 200, response.text


def test_body_over_6_mb_is_413(client: httpx.Client, gateway_env: SimulatorApp) -> None:
    big = chat(text="x" * (6 * 1024 * 1024 + 10))
    response = client.post("/v1/chat/completions", json=big, headers=AUTH)
    assert_error(response, 413, "request_too_large")
    assert gateway_env.requests == []


def test_chunked_body_over_6_mb_is_413(client: httpx.Client, gateway_env: SimulatorApp) -> None:
    def parts() -> Any:
        yield b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "'
        for _ in range(7):
            yield b"x" * (1024 * 1024)
        yield b'"}]}'

    response = client.post("/v1/chat/completions", content=parts(), headers=AUTH)
    assert_error(response, 413, "request_too_large")
    assert gateway_env.requests == []


# ---- authentication --------------------------------------------------------------------

BAD_CREDENTIALS: list[tuple[str, list[tuple[str, str]]]] = [
    ("none", []),
    ("empty bearer", [("authorization", "Bearer")]),
    ("wrong scheme", [("authorization", f"Basic {MASTER_KEY}")]),
    ("no scheme", [("authorization", MASTER_KEY)]),
    ("wrong key", [("authorization", "Bearer sk-wrong")]),
    ("prefix of key", [("authorization", f"Bearer {MASTER_KEY[:-1]}")]),
    ("two headers", [("authorization", f"Bearer {MASTER_KEY}"), ("authorization", "Bearer x")]),
    ("8 KiB key", [("authorization", "Bearer " + "k" * 8192)]),
    ("injection", [("authorization", "Bearer ' OR '1'='1")]),
    ("json injection", [("authorization", 'Bearer {"$ne": null}')]),
]


@pytest.mark.parametrize(("case", "headers"), BAD_CREDENTIALS, ids=[c[0] for c in BAD_CREDENTIALS])
@pytest.mark.parametrize("route", ["/v1/chat/completions", "/chat/completions", "/v1/models"])
def test_bad_credentials_are_401_with_one_body(
    client: httpx.Client,
    gateway_env: SimulatorApp,
    case: str,
    headers: list[tuple[str, str]],
    route: str,
) -> None:
    if route.endswith("models"):
        response = client.get(route, headers=headers)
    else:
        response = client.post(route, json=chat(), headers=headers)
    error = assert_error(response, 401, "invalid_api_key")
    assert error == {
        "message": "Invalid API key. Send 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert gateway_env.requests == []


def test_control_bytes_in_a_key_are_401_in_the_app(gateway_env: SimulatorApp) -> None:
    from gateway.http.app import create_app

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
            return await c.get("/v1/models", headers={"authorization": f"Bearer {MASTER_KEY}\x01"})

    assert_error(anyio.run(run), 401, "invalid_api_key")


def test_control_bytes_in_a_header_never_reach_the_app(
    client: httpx.Client, gateway_env: SimulatorApp
) -> None:
    # Not valid HTTP (RFC 9110 5.5): uvicorn's parser answers 400 itself. In AWS, API
    # Gateway and the web adapter refuse such a header before it gets this far.
    response = client.post(
        "/v1/chat/completions", json=chat(), headers={"authorization": f"Bearer {MASTER_KEY}\x01"}
    )
    assert response.status_code == 400
    assert gateway_env.requests == []


def test_health_needs_no_key(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_unknown_route_is_openai_shaped(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing-here", headers=AUTH), 404, "not_found")
    assert_error(client.get("/v1/chat/completions", headers=AUTH), 405, "method_not_allowed")


# ---- upstream faults ------------------------------------------------------------------

FAULTS: list[tuple[str, int, str]] = [
    ("400", 400, "invalid_value"),
    ("401", 502, "upstream_auth_failed"),
    ("429", 429, "rate_limit_exceeded"),
    ("500", 502, "upstream_error"),
    ("502", 502, "upstream_error"),
    ("503", 503, "service_unavailable"),
    ("context_length", 400, "context_length_exceeded"),
    ("invalid_json", 502, "upstream_error"),
    ("html", 502, "upstream_error"),
    ("leak", 502, "upstream_auth_failed"),
]


# Failures before the first byte; a stream that turns invalid after its first event is
# test_stream_failing_midway's.
FAULT_CASES = [
    pytest.param(fault, status, code, stream, id=f"{fault}-{'stream' if stream else 'plain'}")
    for fault, status, code in FAULTS
    for stream in (False, True)
    if not (fault == "invalid_json" and stream)
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("fault", "status", "code", "stream"), FAULT_CASES)
def test_upstream_fault_is_mapped(
    client: httpx.Client,
    gateway_env: SimulatorApp,
    model: str,
    fault: str,
    status: int,
    code: str,
    stream: bool,
) -> None:
    gateway_env.set_fault(fault)
    response = client.post(
        "/v1/chat/completions", json=chat(model=model, stream=stream), headers=AUTH
    )
    if model == "bedrock-claude" and fault == "leak":
        status, code = 502, "upstream_auth_failed"
    assert_error(response, status, code)
    if fault == "429":
        assert response.headers["retry-after"] == "7"
    if fault == "503":
        assert int(response.headers["retry-after"]) >= 1
    assert len(gateway_env.requests) == 1


def test_529_overloaded_is_503_with_retry_after(
    client: httpx.Client, gateway_env: SimulatorApp
) -> None:
    gateway_env.set_fault("529")
    response = client.post(
        "/v1/chat/completions", json=chat(model="claude-3-5-haiku"), headers=AUTH
    )
    assert_error(response, 503, "service_unavailable")
    assert response.headers["retry-after"]


def sse_events(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("fault", ["truncate", "error_event", "invalid_json"])
def test_stream_failing_midway_ends_with_an_error_event(
    client: httpx.Client, gateway_env: SimulatorApp, model: str, fault: str
) -> None:
    gateway_env.set_fault(fault)
    response = client.post(
        "/v1/chat/completions", json=chat(model=model, stream=True), headers=AUTH
    )
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1] != "[DONE]"
    last = json.loads(events[-1])
    assert last["error"]["type"] in ("api_error", "rate_limit_error", "service_unavailable_error")
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks if c["choices"])
    assert OPENAI_KEY not in response.text
    assert ANTHROPIC_KEY not in response.text
