"""Lambda entrypoints fed real API Gateway REST (payload 1.0) events from events/.

The `gateway_env` fixture (tests/conftest.py) points `gpt-4o-mini` at the provider simulator
and sets the master key the events carry. functions/ is not a package, so buffered.py is
loaded by path.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from handlers import invoker

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]


def _event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.apigw.json").read_text("utf-8"))
    return event


@pytest.fixture
def invoke(gateway_env: object) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    with invoker("api/buffered.py", "ApiFunction") as call:
        yield call


def test_health(invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    response = invoke(_event("health"))
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"].startswith("application/json")


def test_models(invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    response = invoke(_event("models"))
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["object"] == "list"
    assert "gpt-4o-mini" in {m["id"] for m in body["data"]}
    assert {m["object"] for m in body["data"]} == {"model"}


def test_chat_completion(invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    response = invoke(_event("chat"))
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Echo: Say hello in one word."
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_chat_completion_stream_arrives_as_one_sse_body(
    invoke: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    response = invoke(_event("chat_stream"))
    assert response["statusCode"] == 200, response["body"]
    assert response["headers"]["content-type"].startswith("text/event-stream")
    data = [line[6:] for line in response["body"].splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert any(c["choices"] and "delta" in c["choices"][0] for c in chunks)
    assert chunks[-1].get("usage"), "stream_options.include_usage asks for a usage chunk"


def test_messages(invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Anthropic's Messages API, keyed by x-api-key, natively on the Anthropic simulator."""
    response = invoke(_event("messages"))
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert body["type"] == "message"
    assert body["content"] == [{"type": "text", "text": "Echo: Say hello in one word."}]
    assert body["model"] == "claude-3-5-haiku"
    assert body["id"] == f"msg_{response['headers']['x-request-id']}"
    assert response["headers"]["request-id"] == response["headers"]["x-request-id"]


def test_messages_without_key_is_anthropic_shaped(
    invoke: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    event = copy.deepcopy(_event("messages"))
    del event["headers"]["x-api-key"]
    del event["multiValueHeaders"]["x-api-key"]
    response = invoke(event)
    assert response["statusCode"] == 401
    body = json.loads(response["body"])
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert body["request_id"] == response["headers"]["request-id"]


def test_responses(invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """OpenAI's Responses API, translated to chat for an Anthropic model, nothing stored."""
    response = invoke(_event("responses"))
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert body["object"] == "response"
    assert body["status"] == "completed"
    assert body["store"] is False
    assert body["id"] == f"resp_{response['headers']['x-request-id']}"
    (message,) = body["output"]
    assert message["content"][0]["text"] == "Echo: Say hello in one word."


def test_chat_without_key_is_rejected(invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    event = copy.deepcopy(_event("chat"))
    del event["headers"]["Authorization"]
    del event["multiValueHeaders"]["Authorization"]
    response = invoke(event)
    assert response["statusCode"] == 401
    assert isinstance(json.loads(response["body"])["error"]["message"], str)


def _invocation(method: str, path: str) -> dict[str, Any]:
    event = copy.deepcopy(_event("health"))
    event.update(resource=path, path=path, httpMethod=method)
    event["requestContext"].update(resourcePath=path, httpMethod=method)
    return event


def test_adapter_paths_in_template_are_served(
    invoke: Callable[[dict[str, Any]], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapter's readiness and SnapStart paths must answer 2xx, or init and restore fail.
    The adapter POSTs the SnapStart path itself, on the server's socket from loopback; as an
    invocation, the path is an unknown route (tests/integration/test_http_hardening.py)."""
    import httpx

    from gateway.config import settings
    from gateway.http.app import create_app
    from servers import serve

    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    env = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    readiness, restore = (
        env["AWS_LWA_READINESS_CHECK_PATH"],
        env["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"],
    )
    assert invoke(_invocation("GET", readiness))["statusCode"] == 200
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ApiFunction")
    settings.cache_clear()
    try:
        assert invoke(_invocation("POST", restore))["statusCode"] == 404
        with serve(create_app()) as url:
            assert httpx.post(f"{url}{restore}", timeout=10).status_code == 200
    finally:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
        settings.cache_clear()
