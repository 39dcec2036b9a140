"""Each request's telemetry: exactly one line, a CloudWatch EMF document that carries its
access fields too, written after its last byte, with what the operator needs and never a
key or a prompt. Requests run through the whole app on the simulator and the AWS emulation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from keys import asgi_client, bearer, chat, make_key, make_team
from spend_helpers import drain

if TYPE_CHECKING:
    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio
SECRET_PROMPT = "my very private prompt"


@pytest.fixture
def env(spend_env: GatewayTable, monkeypatch: pytest.MonkeyPatch) -> GatewayTable:
    from gateway.telemetry import access_log, metrics

    for name in ("POWERTOOLS_METRICS_DISABLED", "GATEWAY_LOG_PROMPTS", "GATEWAY_METRICS_BY_TEAM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "llm-gateway")
    for cached in (metrics._settings, access_log.prompts_logged):
        cached.cache_clear()
    yield spend_env
    for cached in (metrics._settings, access_log.prompts_logged):
        cached.cache_clear()


def documents(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    return [line for line in lines if line["_aws"]["CloudWatchMetrics"]]


def dimension_sets(document: dict[str, Any]) -> list[list[str]]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "LLMGateway"
    return [sorted(names) for names in directive["Dimensions"]]


def value(document: dict[str, Any], name: str) -> float:
    raw = document[name]
    return float(raw[0] if isinstance(raw, list) else raw)


async def post(key: str, body: dict[str, Any], path: str = "/v1/chat/completions") -> Any:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        return await client.post(path, json=body, headers=bearer(key))


async def test_a_served_request_has_one_line_with_its_metrics_and_access_fields(
    env: GatewayTable, capsys: pytest.CaptureFixture[str]
) -> None:
    make_team(env, "t1")
    key = make_key(env, key_alias="search-svc", team_id="t1")
    response = await post(key, chat("metered", SECRET_PROMPT, max_tokens=30))
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    (document,) = documents(capsys)
    assert dimension_sets(document) == [
        ["service"],
        ["ModelGroup", "service"],
        ["ModelGroup", "Provider", "service"],
    ]
    assert document["service"] == "llm-gateway"
    assert document["ModelGroup"] == "metered"
    assert document["Provider"] == "openai"
    for name, expected in (
        ("Requests", 1),
        ("Errors", 0),
        ("ServerErrors", 0),
        ("InputTokens", usage["prompt_tokens"]),
        ("OutputTokens", usage["completion_tokens"]),
        ("CostMicros", usage["completion_tokens"] * 1000),
        ("CacheHit", 0),
        ("RateLimited", 0),
        ("BudgetRefused", 0),
        ("UpstreamFailures", 0),
        ("Fallbacks", 0),
    ):
        assert value(document, name) == expected, name
    assert value(document, "Latency") > 0
    assert value(document, "TimeToFirstToken") >= 0
    assert document["request_id"] == response.headers["x-request-id"]
    fields = document
    assert fields["request_id"] == response.headers["x-request-id"]
    assert (fields["method"], fields["path"], fields["status"]) == (
        "POST",
        "/v1/chat/completions",
        200,
    )
    assert fields["key_alias"] == "search-svc"
    assert fields["team_id"] == "t1"
    assert len(fields["key_hash"]) == 12
    assert fields["requested_model"] == fields["model_group"] == "metered"
    assert fields["provider"] == "openai"
    assert fields["deployment"]
    assert fields["input_tokens"] == usage["prompt_tokens"]
    assert fields["output_tokens"] == usage["completion_tokens"]
    assert fields["cost_usd"] == usage["completion_tokens"] * 0.001
    assert fields["attempts"] == 1
    assert fields["latency_ms"] > 0
    rendered = json.dumps(document)
    assert key not in rendered
    assert SECRET_PROMPT not in rendered
    assert await drain(env) == 1


@pytest.mark.parametrize(
    ("arrange", "error_type", "flag"),
    [
        ("bad_key", "authentication_error", None),
        ("rpm", "rate_limit_error", "RateLimited"),
        ("budget", "budget_exceeded", "BudgetRefused"),
    ],
)
async def test_a_refusal_is_counted_by_its_class(
    env: GatewayTable,
    capsys: pytest.CaptureFixture[str],
    arrange: str,
    error_type: str,
    flag: str | None,
) -> None:
    key = "sk-gw-not-a-key"
    if arrange == "rpm":
        key = make_key(env, rpm_limit=1)
        assert (await post(key, chat("metered", max_tokens=5))).status_code == 200
    elif arrange == "budget":
        key = make_key(env, max_budget_micros=1)
    capsys.readouterr()
    response = await post(key, chat("metered", max_tokens=5))
    assert response.status_code in (401, 429), response.text
    (document,) = documents(capsys)
    assert ["ErrorType", "service"] in dimension_sets(document)
    assert document["ErrorType"] == error_type
    assert value(document, "Errors") == 1
    assert value(document, "ServerErrors") == 0
    if flag is not None:
        assert value(document, flag) == 1
    assert document["status"] == response.status_code
    assert document["error_type"] == error_type


async def test_team_dimension_only_when_configured(
    env: GatewayTable, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.telemetry import metrics

    make_team(env, "t2")
    key = make_key(env, team_id="t2")
    monkeypatch.setenv("GATEWAY_METRICS_BY_TEAM", "true")
    metrics._settings.cache_clear()
    assert (await post(key, chat("metered", max_tokens=5))).status_code == 200
    (document,) = documents(capsys)
    assert ["Team", "service"] in dimension_sets(document)
    assert document["Team"] == "t2"


async def test_prompts_are_logged_only_when_the_operator_asks(
    env: GatewayTable, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.telemetry import access_log

    key = make_key(env)
    await post(key, chat("metered", SECRET_PROMPT, max_tokens=5))
    monkeypatch.setenv("GATEWAY_LOG_PROMPTS", "true")
    access_log.prompts_logged.cache_clear()
    await post(key, chat("metered", SECRET_PROMPT, max_tokens=5))
    off, on = documents(capsys)
    assert "request_body" not in off
    assert SECRET_PROMPT in on["request_body"]


async def test_a_stream_is_recorded_once_after_its_end_and_health_not_at_all(
    env: GatewayTable, capsys: pytest.CaptureFixture[str], gateway_env: SimulatorApp
) -> None:
    from gateway.http.app import create_app

    key = make_key(env)
    body = chat("metered", "stream me [sim-chunks:5]", max_tokens=30, stream=True)
    async with asgi_client(create_app()) as client:
        response = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
        assert (await client.get("/health")).status_code == 200
    assert response.text.rstrip().endswith("data: [DONE]")
    (document,) = documents(capsys)
    assert value(document, "OutputTokens") > 0
    assert value(document, "TimeToFirstToken") <= value(document, "Latency")
