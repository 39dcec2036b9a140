"""Gemini API and Vertex AI errors: google.rpc statuses, as both hosts write them.

The body is ``{"error": {"code", "message", "status", "details"?}}`` (google.rpc.Status in
JSON; ``details`` are typed ``type.googleapis.com/google.rpc.*`` messages). The messages are
the ones the real hosts send, as seen in their answers reported publicly: an AI Studio
request without a key is 403 PERMISSION_DENIED, a bad key 400 INVALID_ARGUMENT with reason
API_KEY_INVALID; Vertex AI answers 401 UNAUTHENTICATED for a missing, foreign or unknown
token. Google sends the wait of a 429 in the body (RetryInfo), not in a header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.local.simulator.gemini_request import BAD_REQUEST
from gateway.local.simulator.scenario import RETRY_AFTER_SECONDS

if TYPE_CHECKING:
    from gateway.local.simulator.engine import ErrorContext

CONTEXT_WINDOW = 1048576
_TYPE = "type.googleapis.com/google.rpc."
_SIGN_IN = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
NO_TOKEN = f"Request is missing required authentication credential. {_SIGN_IN}"
BAD_TOKEN = f"Request had invalid authentication credentials. {_SIGN_IN}"
API_KEY_ON_VERTEX = (
    "API keys are not supported by this API. Expected OAuth2 access token or other "
    "authentication credentials that assert a principal. See "
    "https://cloud.google.com/docs/authentication"
)
UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_KEY = "API key not valid. Please pass a valid API key."
_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)
_VERTEX_QUOTA = (
    "Resource exhausted. Please try again later. Please refer to "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
)
INTERNAL = (
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)
_OVERLOADED = "The model is overloaded. Please try again later."
_BAD_JSON = "Invalid JSON payload received. Unexpected token."
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
_STATUS_NAMES |= {404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
_STATUS_NAMES |= {502: "UNAVAILABLE", 503: "UNAVAILABLE"}
# Google's own 502 is a front-end HTML page; the simulator answers it as a status instead.
_SIMPLE: dict[str, tuple[int, str, str]] = {
    # kind: (HTTP status, AI Studio message, Vertex AI message)
    "500": (500, INTERNAL, "Internal error encountered."),
    "502": (502, "Bad Gateway", "Bad Gateway"),
    "503": (503, _OVERLOADED, "The service is currently unavailable."),
    "529": (503, _OVERLOADED, "The service is currently unavailable."),
}


def rpc_error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Any:
    error: dict[str, Any] = {"code": status, "message": message}
    error["status"] = _STATUS_NAMES.get(status, "UNKNOWN")
    if details:
        error["details"] = details
    return {"error": error}


def _detail(kind: str, **fields: Any) -> dict[str, Any]:
    return {"@type": _TYPE + kind, **fields}


def _error_info(reason: str, **metadata: str) -> dict[str, Any]:
    return _detail("ErrorInfo", reason=reason, domain="googleapis.com", metadata=metadata)


def _violation(description: str | None, where: str | None) -> dict[str, Any]:
    violation = {"field": where} if where else {}
    return _detail("BadRequest", fieldViolations=[{**violation, "description": description}])


def _auth_error(kind: str, ctx: ErrorContext, *, vertex: bool, version: str) -> tuple[int, Any]:
    what = "access token" if vertex else "API key"
    leaked = [_detail("DebugInfo", detail=f"Invalid {what}: {ctx.credential}")]
    leaked = leaked if kind == "leak" else []
    if vertex:
        service = "aiplatform.googleapis.com"
        method = f"google.cloud.aiplatform.{version}.PredictionService.GenerateContent"
        if kind == "denied":
            info = _error_info("CREDENTIALS_MISSING", service=service, method=method)
            return 401, rpc_error(401, ctx.message or NO_TOKEN, [info])
        info = _error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", service=service, method=method)
        return 401, rpc_error(401, BAD_TOKEN, [info, *leaked])
    if kind == "denied":
        return 403, rpc_error(403, UNREGISTERED)
    info = _error_info("API_KEY_INVALID", service="generativelanguage.googleapis.com")
    localized = _detail("LocalizedMessage", locale="en-US", message=BAD_KEY)
    return 400, rpc_error(400, BAD_KEY, [info, localized, *leaked])


def _quota_error(ctx: ErrorContext, *, vertex: bool) -> Any:
    if vertex:
        return rpc_error(429, _VERTEX_QUOTA)
    seconds = RETRY_AFTER_SECONDS if ctx.retry_after is None else ctx.retry_after
    violation = {
        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        "quotaDimensions": {"location": "global", "model": ctx.model},
    }
    link = {
        "description": "Learn more about Gemini API quotas",
        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
    }
    details = [
        _detail("QuotaFailure", violations=[violation]),
        _detail("Help", links=[link]),
        _detail("RetryInfo", retryDelay=f"{seconds}s"),
    ]
    return rpc_error(429, _QUOTA, details)


def error_body(kind: str, ctx: ErrorContext, *, vertex: bool, version: str) -> tuple[int, Any]:
    """(HTTP status, body) for an ``engine.Vendor.error`` kind on one host."""
    if kind in _SIMPLE:
        status, studio, cloud = _SIMPLE[kind]
        return status, rpc_error(status, cloud if vertex else studio)
    if kind in ("denied", "401", "leak"):
        return _auth_error(kind, ctx, vertex=vertex, version=version)
    if kind == "429":
        return 429, _quota_error(ctx, vertex=vertex)
    if kind == "context_length":
        total = CONTEXT_WINDOW + ctx.input_tokens
        message = (
            f"The input token count ({total}) exceeds the maximum number of tokens allowed "
            f"({CONTEXT_WINDOW})."
        )
        return 400, rpc_error(400, message)
    if kind == "bad_json":
        return 400, rpc_error(400, _BAD_JSON, [_violation(_BAD_JSON, None)])
    details = [_violation(ctx.message, ctx.param)] if ctx.code == BAD_REQUEST else None
    message = ctx.message or "Request contains an invalid argument."
    return ctx.status, rpc_error(ctx.status, message, details)
