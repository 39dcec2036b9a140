"""Faults chosen by a deployment's base URL (``/_fault/{spec}``) and the ``reset`` fault.

A router test points two deployments of one model at the same simulator, one base URL with
a ``/_fault/...`` prefix: these tests pin that grammar and what each vendor route answers.
"""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING, Any

import anthropic
import botocore.session
import httpx
import openai
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gateway.local.simulator import FAULTS, SimulatorApp, create_app
from gateway.local.simulator.scenario import ERROR_FAULTS, RETRY_FAULTS

if TYPE_CHECKING:
    from collections.abc import Iterator

OPENAI_KEY = "sk-sim-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-sim-0123456789abcdef"
BEDROCK_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
BEDROCK_PATH = "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0"
AUTH = {
    "openai": {"authorization": f"Bearer {OPENAI_KEY}"},
    "anthropic": {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"},
    "bedrock": {"authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1"},
}
# (vendor, route after the base URL, stream)
ROUTES = [
    ("openai", "/v1/chat/completions", False),
    ("openai", "/v1/chat/completions", True),
    ("openai", "/chat/completions", False),
    ("anthropic", "/v1/messages", False),
    ("anthropic", "/v1/messages", True),
    ("bedrock", f"{BEDROCK_PATH}/converse", False),
    ("bedrock", f"{BEDROCK_PATH}/converse-stream", True),
]


@pytest.fixture
def app(sim: SimulatorApp) -> SimulatorApp:
    """The suite's simulator (tests/conftest.py), reset around each test."""
    return sim


def body(vendor: str, stream: bool, text: str = "hello world") -> dict[str, Any]:
    if vendor == "bedrock":
        return {"messages": [{"role": "user", "content": [{"text": text}]}]}
    messages = [{"role": "user", "content": text}]
    if vendor == "anthropic":
        return {"model": "claude-3-5-haiku-20241022", "max_tokens": 64, "messages": messages}
    return {"model": "gpt-4o-mini", "messages": messages, "stream": stream}


def post(
    http: httpx.Client,
    vendor: str,
    *,
    spec: str | None = None,
    route: str | None = None,
    stream: bool = False,
    text: str = "hello world",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    if route is None:
        route = {
            "openai": "/v1/chat/completions",
            "anthropic": "/v1/messages",
            "bedrock": f"{BEDROCK_PATH}/converse-stream" if stream else f"{BEDROCK_PATH}/converse",
        }[vendor]
    payload = body(vendor, stream, text)
    if vendor == "anthropic":
        payload["stream"] = stream
    prefix = f"/_fault/{spec}" if spec is not None else ""
    return http.post(prefix + route, json=payload, headers={**AUTH[vendor], **(headers or {})})


def error_kind(vendor: str, response: httpx.Response) -> str:
    if vendor == "bedrock":
        return response.headers["x-amzn-errortype"]
    error = response.json()["error"]
    return str(error["type"] if vendor == "anthropic" else error.get("code") or error["type"])


# --------------------------------------------------------------------------- routes


@pytest.mark.parametrize(("vendor", "route", "stream"), ROUTES)
def test_every_vendor_route_takes_the_prefix(
    http: httpx.Client, app: SimulatorApp, vendor: str, route: str, stream: bool
) -> None:
    faulted = post(http, vendor, spec="500", route=route, stream=stream)
    assert faulted.status_code == 500
    assert error_kind(vendor, faulted) in ("server_error", "api_error", "InternalServerException")
    healthy = post(http, vendor, route=route, stream=stream)  # same simulator, no prefix
    assert healthy.status_code == 200
    assert [r["path"] for r in app.requests] == [
        "/_fault/500" + route.replace("%3A", ":"),
        route.replace("%3A", ":"),
    ]


def test_openai_sdk_on_a_faulted_base_url(base: str) -> None:
    faulted = openai.OpenAI(
        base_url=f"{base}/_fault/429,retry_after=3/v1", api_key=OPENAI_KEY, max_retries=0
    )
    with pytest.raises(openai.RateLimitError) as caught:
        faulted.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.response.headers["retry-after"] == "3"
    assert "Please try again in 3s." in caught.value.message
    healthy = openai.OpenAI(base_url=f"{base}/v1", api_key=OPENAI_KEY, max_retries=0)
    answer = healthy.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "Echo: hi"


def test_anthropic_sdk_on_a_faulted_base_url(base: str) -> None:
    client = anthropic.Anthropic(
        base_url=f"{base}/_fault/529,retry_after=2", api_key=ANTHROPIC_KEY, max_retries=0
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert caught.value.status_code == 529
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


@pytest.mark.parametrize("stream", [False, True])
def test_botocore_on_a_faulted_endpoint(base: str, app: SimulatorApp, stream: bool) -> None:
    client = botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=f"{base}/_fault/503",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    call = client.converse_stream if stream else client.converse
    with pytest.raises(ClientError) as caught:
        call(modelId=BEDROCK_MODEL, messages=messages)
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailableException"
    suffix = "/converse-stream" if stream else "/converse"
    assert app.requests[-1]["path"] == f"/_fault/503/model/{BEDROCK_MODEL}{suffix}"


# --------------------------------------------------------------------------- retry headers


RETRY_CASES = [
    # (vendor, spec, status, headers expected, headers absent)
    ("openai", "429", 429, {"retry-after": "7"}, ["retry-after-ms"]),
    ("openai", "429,retry_after=3", 429, {"retry-after": "3"}, ["retry-after-ms"]),
    ("openai", "429,retry_after_ms=250", 429, {"retry-after-ms": "250"}, ["retry-after"]),
    (
        "openai",
        "503,retry_after=1,retry_after_ms=1500",
        503,
        {"retry-after": "1", "retry-after-ms": "1500"},
        [],
    ),
    ("openai", "529,retry_after_ms=40", 503, {"retry-after-ms": "40"}, ["retry-after"]),
    ("openai", "503", 503, {}, ["retry-after", "retry-after-ms"]),
    ("anthropic", "429,retry_after=5", 429, {"retry-after": "5"}, ["retry-after-ms"]),
    ("anthropic", "529,retry_after=0", 529, {"retry-after": "0"}, ["retry-after-ms"]),
    ("anthropic", "529", 529, {}, ["retry-after"]),
    ("bedrock", "429,retry_after=4", 429, {"retry-after": "4"}, []),
    ("bedrock", "503,retry_after=2", 503, {"retry-after": "2"}, []),
]


@pytest.mark.parametrize(("vendor", "spec", "status", "present", "absent"), RETRY_CASES)
@pytest.mark.parametrize("stream", [False, True])
def test_retry_headers(
    http: httpx.Client,
    vendor: str,
    spec: str,
    status: int,
    present: dict[str, str],
    absent: list[str],
    stream: bool,
) -> None:
    response = post(http, vendor, spec=spec, stream=stream)
    assert response.status_code == status
    assert {name: response.headers.get(name) for name in present} == present
    assert [name for name in absent if name in response.headers] == []


def test_openai_rate_limit_message_names_the_wait(http: httpx.Client) -> None:
    message = post(http, "openai", spec="429,retry_after_ms=250").json()["error"]["message"]
    assert "Please try again in 250ms." in message


# --------------------------------------------------------------------------- times, precedence


def test_times_then_healthy(http: httpx.Client, app: SimulatorApp) -> None:
    assert [post(http, "openai", spec="500,times=2").status_code for _ in range(4)] == [
        500,
        500,
        200,
        200,
    ]
    # Counted per exact spec string: another spelling is another deployment.
    assert post(http, "openai", spec="500,times=1").status_code == 500
    assert post(http, "openai", spec="500,times=1").status_code == 200
    app.reset()
    assert post(http, "openai", spec="500,times=2").status_code == 500


def test_times_counts_across_vendor_routes_of_one_spec(http: httpx.Client) -> None:
    assert post(http, "anthropic", spec="429,times=1").status_code == 429
    assert post(http, "bedrock", spec="429,times=1").status_code == 200


def test_after_times_the_other_selectors_apply_again(http: httpx.Client, app: SimulatorApp) -> None:
    app.set_fault("502")
    assert post(http, "openai", spec="429,times=1").status_code == 429
    assert post(http, "openai", spec="429,times=1").status_code == 502
    assert post(http, "openai", spec="429,times=1", headers={"x-sim-fault": "503"}).status_code == (
        503
    )


def test_path_fault_beats_header_marker_and_server_fault(
    http: httpx.Client, app: SimulatorApp
) -> None:
    app.set_fault("502", times=1)
    response = post(
        http, "anthropic", spec="529", text="[sim-fault:503] hi", headers={"x-sim-fault": "429"}
    )
    assert response.status_code == 529
    assert app.sim.fault_times == 1  # the server-level fault was not used up
    assert post(http, "anthropic").status_code == 502


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "bedrock"])
def test_path_fault_beats_a_header_timeout(http: httpx.Client, vendor: str) -> None:
    assert post(http, vendor, headers={"x-sim-fault": "timeout"}, spec="html").status_code == 200


# --------------------------------------------------------------------------- malformed specs


MALFORMED = [
    ("nope", "unknown simulator fault 'nope'"),
    ("500,times=0", "times must be at least 1"),
    ("500,times=x", "times needs a whole number"),
    ("500,times=-1", "times needs a whole number"),
    ("500,times", "times needs a whole number"),
    ("500,times=1234567890", "times needs a whole number"),
    ("500,bogus=1", "unknown option 'bogus'"),
    ("500,", "unknown option ''"),
    ("500,times=1,times=2", "times given twice"),
    ("500,retry_after=1", "apply to 429, 503, 529 only"),
    ("reset,retry_after_ms=1", "apply to 429, 503, 529 only"),
]


@pytest.mark.parametrize(("spec", "reason"), MALFORMED)
@pytest.mark.parametrize("vendor", ["openai", "anthropic", "bedrock"])
def test_malformed_spec_is_refused(
    http: httpx.Client, app: SimulatorApp, vendor: str, spec: str, reason: str
) -> None:
    response = post(http, vendor, spec=spec)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith(f"bad fault spec {spec!r} in /_fault/{{spec}}: ")
    assert reason in response.text
    assert app.requests[-1]["path"].startswith(f"/_fault/{spec}/")  # recorded all the same


def test_malformed_spec_is_reported_before_auth(http: httpx.Client) -> None:
    response = http.post("/_fault/nope/v1/chat/completions", json=body("openai", False))
    assert response.status_code == 400
    assert "bad fault spec" in response.text


@pytest.mark.parametrize("vendor", ["anthropic", "bedrock"])
def test_retry_after_ms_is_openai_only(http: httpx.Client, vendor: str) -> None:
    response = post(http, vendor, spec="429,retry_after_ms=100")
    assert response.status_code == 400
    assert f"{vendor} sends no retry-after-ms header" in response.text


# --------------------------------------------------------------------------- reset


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def server_log() -> Iterator[list[str]]:
    """What uvicorn logs meanwhile (it would log an app that neither answers nor leaves)."""
    handler = _Records()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


@pytest.mark.parametrize(("vendor", "route", "stream"), ROUTES)
def test_reset_closes_without_a_response(
    http: httpx.Client,
    app: SimulatorApp,
    server_log: list[str],
    vendor: str,
    route: str,
    stream: bool,
) -> None:
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        post(http, vendor, spec="reset", route=route, stream=stream)
    assert post(http, vendor, route=route, stream=stream).status_code == 200
    assert len(app.requests) == 2  # the reset request was recorded
    assert server_log == []


def test_reset_sends_no_byte(base: str) -> None:
    """Over a raw socket: the connection is reset (RST) before any byte of a response."""
    port = int(base.rsplit(":", 1)[1])
    payload = json.dumps(body("openai", False)).encode()
    request = (
        b"POST /_fault/reset/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + OPENAI_KEY.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
    ) + payload
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        with pytest.raises(ConnectionResetError):
            sock.recv(65536)


def test_reset_by_header_and_sdk_sees_a_connection_error(base: str) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=OPENAI_KEY, max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": "reset"},
        )


def test_reset_with_times_then_healthy(http: httpx.Client) -> None:
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        post(http, "anthropic", spec="reset,times=1")
    assert post(http, "anthropic", spec="reset,times=1").status_code == 200


@pytest.mark.anyio
async def test_reset_without_a_server_transport_raises_in_process() -> None:
    """Under httpx's ASGITransport there is no socket: the app raises ConnectionResetError."""
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        with pytest.raises(ConnectionResetError):
            await client.post(
                "/_fault/reset/v1/chat/completions",
                json=body("openai", False),
                headers=AUTH["openai"],
            )


def test_reset_is_a_fault_but_not_an_http_error() -> None:
    assert "reset" in FAULTS
    assert "reset" not in ERROR_FAULTS
    assert RETRY_FAULTS <= ERROR_FAULTS
