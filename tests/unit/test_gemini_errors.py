"""Gemini and Vertex AI error bodies (google.rpc.Status) against golden files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway import errors
from gateway.providers import gemini
from gateway.router.retries import classify

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"
ERROR_CASES = sorted(
    p.name.removesuffix(".response.json") for p in FIXTURES.glob("error_*.response.json")
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def raw(body: Any) -> bytes:
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    error = gemini.map_error(golden["status"], raw(golden["gemini"]), golden["headers"])
    expected = golden["error"]
    assert error.status == expected["status"]
    assert error.body()["error"] == {
        "message": expected["message"],
        "type": expected["type"],
        "param": None,
        "code": expected["code"],
    }
    assert error.headers == expected.get("headers", {})
    # Never the key, the project or Google's debug details.
    for secret in ("AIza-test-key", "acme-prod", "DebugInfo", "@type"):
        assert secret not in error.message


@pytest.mark.parametrize(
    ("case", "retryable", "fallback"),
    [
        ("error_invalid_argument", False, "none"),
        ("error_context_length", False, "context_window"),
        ("error_api_key_invalid", True, "generic"),
        ("error_permission_denied", True, "generic"),
        ("error_not_found", True, "generic"),
        ("error_resource_exhausted", True, "generic"),
        ("error_failed_precondition", True, "generic"),
        ("error_internal", True, "generic"),
        ("error_unavailable", True, "generic"),
        ("error_deadline_exceeded", True, "generic"),
    ],
)
def test_what_the_router_does_with_it(case: str, retryable: bool, fallback: str) -> None:
    golden = load(f"{case}.response.json")
    failure = classify(gemini.map_error(golden["status"], raw(golden["gemini"]), golden["headers"]))
    assert (failure.retryable, failure.fallback) == (retryable, fallback)


def test_rate_limit_retry_after_prefers_the_header() -> None:
    golden = load("error_resource_exhausted.response.json")
    error = gemini.map_error(429, raw(golden["gemini"]), {"retry-after": "5"})
    assert error.headers == {"retry-after": "5"}
    assert classify(error).retry_after_s == 5


@pytest.mark.parametrize(("delay", "expected"), [("0.2s", "1"), ("3s", "3"), ("bad", None)])
def test_retry_delay_rounds_up(delay: str, expected: str | None) -> None:
    body = {
        "error": {
            "code": 429,
            "message": "quota",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}],
        }
    }
    error = gemini.map_error(429, raw(body), {})
    assert error.headers == ({"retry-after": expected} if expected else {})


def test_every_status_name_maps_to_a_gateway_error() -> None:
    for name, kind in gemini.ERRORS.items():
        body = {"error": {"code": 400, "message": "m", "status": name}}
        assert isinstance(gemini.map_error(400, raw(body), {}), kind)


def test_unknown_status_name_falls_back_to_the_http_status() -> None:
    body = {"error": {"code": 418, "message": "teapot", "status": "SOMETHING_NEW"}}
    error = gemini.map_error(418, raw(body), {})
    assert type(error) is errors.InvalidRequestError


def test_in_stream_error_without_a_status_name_is_a_provider_failure() -> None:
    from gateway.providers.gemini.errors import error_from

    assert type(error_from({"error": {"message": "boom"}}, 200, {})) is errors.UpstreamError
    assert type(error_from({"error": {"code": 429, "message": "slow"}}, 200, {})) is (
        errors.RateLimitError
    )


def test_message_is_flattened_and_bounded() -> None:
    body = {"error": {"code": 400, "message": "a\n\nb " + "x" * 1000, "status": "INVALID_ARGUMENT"}}
    error = gemini.map_error(400, raw(body), {})
    assert "\n" not in error.message
    assert len(error.message) < 500
