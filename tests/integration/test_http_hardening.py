"""What an attacker found against `make dev` (issue 16, defects 2-7), one regression each.

Every failure is an OpenAI-shaped error with its status and an x-request-id, never a
500 or a logged traceback, and the provider is never called.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import MASTER_KEY, use_models
from handlers import event, invoker
from keys import asgi_client, bearer, chat

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from gateway.local.simulator import SimulatorApp
    from gateway.telemetry.record import RequestRecord

pytestmark = pytest.mark.anyio


def assert_error(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"]
    assert "location" not in response.headers
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    assert "Traceback" not in response.text
    return dict(error)


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Fails the test on any logged error or traceback, uvicorn's own included (its loggers
    do not propagate to the root)."""
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addHandler(caplog.handler)
    yield caplog
    uvicorn_errors.removeHandler(caplog.handler)
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not noisy, [r.getMessage() for r in noisy]


async def post_chat(
    app: Any, body: dict[str, Any], extra: dict[bytes, bytes] | None = None
) -> httpx.Response:
    headers = {b"authorization": f"Bearer {MASTER_KEY}".encode(), **(extra or {})}
    async with asgi_client(app) as client:
        return await client.post("/v1/chat/completions", json=body, headers=headers)


# ---- 2: numbers in headers and queries are ASCII digits ---------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-gateway-cache-ttl", "²"),  # isdigit() is true of it, int() refuses it
        ("x-gateway-cache-ttl", "1e3"),
        ("x-gateway-cache-ttl", "-5"),
        ("cache-control", "s-maxage=²"),
        ("cache-control", "max-age=³"),
    ],
)
async def test_a_non_ascii_number_in_a_header_is_a_400(
    gateway_env: SimulatorApp,
    quiet: pytest.LogCaptureFixture,
    header: str,
    value: str,
    stream: bool,
) -> None:
    from gateway.http.app import create_app

    # As sent on the wire: one byte, which the server reads as latin-1.
    response = await post_chat(
        create_app(), chat(stream=stream), {header.encode(): value.encode("latin-1")}
    )
    assert_error(response, 400, "invalid_value", header)
    assert gateway_env.requests == []


async def test_a_non_ascii_number_in_a_query_is_a_400(
    gateway_env: SimulatorApp, quiet: pytest.LogCaptureFixture
) -> None:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        response = await client.get(
            "/v1/responses/resp_1/input_items", params={"limit": "²"}, headers=bearer(MASTER_KEY)
        )
    assert_error(response, 400, "invalid_value", "limit")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": " 7 "}, {"retry-after": "7"}),
        ({"retry-after-ms": "1500"}, {"retry-after": "2"}),
        ({"retry-after": "²"}, {}),
        ({"retry-after": "٣"}, {}),  # int() would read it as 3, and no header can carry it
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, {}),
        ({"retry-after-ms": "inf"}, {}),  # math.ceil(inf) raised OverflowError
        ({"retry-after-ms": "nan"}, {}),
        ({"retry-after-ms": "1e3"}, {}),
    ],
)
def test_a_providers_bad_retry_after_is_ignored(
    headers: dict[str, str], expected: dict[str, str]
) -> None:
    from gateway.providers.failures import retry_after_headers

    assert retry_after_headers(headers) == expected


# ---- 3: JSON inside strings nests at most 64 levels ------------------------------------

DEEP_ARGUMENTS = [
    pytest.param("[" * 5000 + "]" * 5000, "must be a JSON object", id="5000-arrays"),
    pytest.param('{"a":' + "[" * 300 + "]" * 300 + "}", "deeper than 64", id="300-levels"),
    pytest.param('{"a":' * 65 + "1" + "}" * 65, "deeper than 64", id="65-objects"),
]


def with_tool_call(model: str, arguments: str, stream: bool) -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return {
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
    }


@pytest.fixture
def gemini(gateway_env: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    studio = {"model": "gemini/gemini-2.5-flash", "api_base": gateway_env.state.url}
    entry = {"model_name": "gemini", "litellm_params": {**studio, "api_key": "AIza-sim-key"}}
    use_models(tmp_path / "config.yaml", gateway_env.state.url, [entry], monkeypatch)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["claude-3-5-haiku", "bedrock-claude", "gemini"])
@pytest.mark.parametrize(("arguments", "message"), DEEP_ARGUMENTS)
async def test_deeply_nested_tool_arguments_are_a_400(
    gateway_env: SimulatorApp,
    gemini: None,
    quiet: pytest.LogCaptureFixture,
    model: str,
    arguments: str,
    message: str,
    stream: bool,
) -> None:
    from gateway.http.app import create_app

    response = await post_chat(create_app(), with_tool_call(model, arguments, stream))
    error = assert_error(
        response, 400, "invalid_value", "messages[1].tool_calls[0].function.arguments"
    )
    assert message in error["message"]
    assert gateway_env.requests == []


async def test_tool_arguments_64_levels_deep_are_sent(
    gateway_env: SimulatorApp, quiet: pytest.LogCaptureFixture
) -> None:
    from gateway.http.app import create_app

    arguments = '{"a":' * 64 + "1" + "}" * 64
    response = await post_chat(create_app(), with_tool_call("claude-3-5-haiku", arguments, False))
    assert response.status_code == 200, response.text
    [sent] = gateway_env.requests
    assert json.dumps(sent["json"]).count('{"a": ') == 64


# ---- 4: no redirect for a trailing slash ----------------------------------------------


@pytest.mark.parametrize(
    ("factory", "method", "path"),
    [
        ("create_app", "POST", "/v1/chat/completions/"),
        ("create_app", "GET", "/v1/models/"),
        ("create_admin_app", "POST", "/key/generate/"),
        ("create_local_app", "POST", "/v1/chat/completions/"),
        ("create_local_app", "GET", "/health/"),
    ],
)
async def test_a_trailing_slash_is_a_404_not_a_redirect(
    gateway_env: SimulatorApp,
    quiet: pytest.LogCaptureFixture,
    factory: str,
    method: str,
    path: str,
) -> None:
    from gateway.http import app

    async with asgi_client(getattr(app, factory)()) as client:
        # Unauthenticated, with a Host of the caller's choosing: the 307 sent it back.
        response = await client.request(
            method, path, json=chat(), headers={"host": "attacker.example"}
        )
    assert_error(response, 404, "not_found")
    assert gateway_env.requests == []


# ---- 5, 6: a body that never ends, on a real server -----------------------------------


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> list[RequestRecord]:
    """Each request's telemetry record, as the Observed middleware writes it."""
    from gateway.telemetry import metrics

    written: list[RequestRecord] = []
    monkeypatch.setattr(metrics, "emit", lambda record, _fields: written.append(record))
    return written


def send_head(url: str, length: int, body: bytes) -> socket.socket:
    """A chat request whose headers declare `length` bytes of body, and `body` of them."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\n"
        f"Authorization: Bearer {MASTER_KEY}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def wait_for(records: list[RequestRecord], seconds: float = 10) -> RequestRecord:
    deadline = time.monotonic() + seconds
    while not records:
        assert time.monotonic() < deadline, "no request record was written"
        time.sleep(0.02)
    [record] = records
    return record


def test_a_client_that_leaves_mid_body_is_a_499(
    gateway_url: str,
    gateway_env: SimulatorApp,
    records: list[RequestRecord],
    quiet: pytest.LogCaptureFixture,
) -> None:
    sock = send_head(gateway_url, 1000, b'{"model": "gpt-4o-mini", "mess')
    time.sleep(0.2)  # the app is reading the body
    sock.close()
    record = wait_for(records)
    assert (record.status, record.error_code) == (499, "client_disconnected")
    assert record.error_type == "client_closed_request"
    assert (record.attempts, record.cost_micros) == (0, 0)
    assert gateway_env.requests == []


@pytest.fixture
def short_body_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    from gateway.config import settings

    monkeypatch.setenv("GATEWAY_BODY_TIMEOUT_S", "0.5")
    settings.cache_clear()
    yield 0.5
    monkeypatch.delenv("GATEWAY_BODY_TIMEOUT_S")
    settings.cache_clear()


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_stalled_body_is_a_408_and_the_connection_closes(
    gateway_url: str,
    gateway_env: SimulatorApp,
    records: list[RequestRecord],
    short_body_timeout: float,
    quiet: pytest.LogCaptureFixture,
) -> None:
    started = time.monotonic()
    with send_head(gateway_url, 100, b'{"model": ') as sock:
        answer = read_until_closed(sock)  # the server closes it: no recv timeout
    assert time.monotonic() - started < short_body_timeout + 3
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    assert status_line.startswith("HTTP/1.1 408 ")
    assert headers["x-request-id"]
    assert headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_timeout")
    record = wait_for(records)
    assert (record.status, record.error_code) == (408, "request_timeout")
    assert gateway_env.requests == []


def test_the_body_timeout_defaults_to_10_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import settings

    monkeypatch.delenv("GATEWAY_BODY_TIMEOUT_S", raising=False)
    settings.cache_clear()
    try:
        assert settings().body_timeout_s == 10.0
    finally:
        settings.cache_clear()


# ---- 7: only Lambda Web Adapter may call the SnapStart hook ----------------------------

HOOK = "/_internal/snapstart/after-restore"


@pytest.fixture
def restores(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time the hook ran (it drops the sandbox's clients, cutting live streams)."""
    from gateway import aws

    ran: list[str] = []
    monkeypatch.setattr(aws, "reset", lambda: ran.append("restored"))
    return ran


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from gateway.config import settings

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "llm-gateway-ApiFunction")
    settings.cache_clear()
    yield
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    settings.cache_clear()


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_under_make_dev_the_hook_is_an_unknown_route(
    gateway_env: SimulatorApp, restores: list[str], quiet: pytest.LogCaptureFixture, method: str
) -> None:
    from gateway.config import settings
    from gateway.http.app import create_local_app

    assert settings().lambda_function is None
    async with asgi_client(create_local_app()) as client:
        response = await client.request(method, HOOK)
    assert_error(response, 404, "not_found")
    assert restores == []


OUTSIDE: list[Any] = [
    # Every invocation the adapter forwards carries its request and Lambda contexts.
    pytest.param(("127.0.0.1", 40000), {"x-amzn-request-context": "{}"}, id="forwarded"),
    pytest.param(("127.0.0.1", 40000), {"x-amzn-lambda-context": "{}"}, id="lambda-context"),
    pytest.param(("203.0.113.10", 40000), {}, id="not-loopback"),
]


@pytest.mark.parametrize(("client", "headers"), OUTSIDE)
async def test_in_lambda_only_the_adapter_may_call_the_hook(
    gateway_env: SimulatorApp,
    in_lambda: None,
    restores: list[str],
    quiet: pytest.LogCaptureFixture,
    client: tuple[str, int],
    headers: dict[str, str],
) -> None:
    from gateway.http.app import create_app

    transport = httpx.ASGITransport(app=create_app(), client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
        response = await http.post(HOOK, headers=headers)
    assert_error(response, 404, "not_found")
    assert restores == []


async def test_the_adapters_own_call_restores(
    gateway_env: SimulatorApp, in_lambda: None, restores: list[str]
) -> None:
    from gateway.http.app import create_admin_app, create_app

    async with asgi_client(create_app()) as client:  # from 127.0.0.1, as the adapter
        response = await client.post(HOOK)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "restored"}
    assert restores == ["restored"]
    async with asgi_client(create_admin_app()) as client:  # no SnapStart there
        assert (await client.post(HOOK)).status_code == 404
    assert restores == ["restored"]


def test_through_mangum_the_hook_is_an_unknown_route(
    gateway_env: SimulatorApp, in_lambda: None, restores: list[str]
) -> None:
    hook_event = event("health")
    hook_event.update(path=HOOK, resource=HOOK, httpMethod="POST")
    hook_event["requestContext"]["identity"]["sourceIp"] = "127.0.0.1"
    with invoker("api/buffered.py", "ApiFunction") as call:
        response = call(hook_event)
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"
    assert restores == []
