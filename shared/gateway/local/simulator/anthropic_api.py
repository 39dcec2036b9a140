"""Anthropic Messages: ``POST /v1/messages`` (JSON or SSE with named events) and
``POST /v1/messages/count_tokens``.

The body and the answer are built in ``anthropic_messages``; this module owns the host:
auth and version headers, the error envelope, SSE framing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.local.simulator.anthropic_messages import (
    FIRST_PARTY,
    message,
    parse_body,
    stream_events,
)
from gateway.local.simulator.engine import ErrorContext, Ev, Vendor, json_response
from gateway.local.simulator.scenario import RequestError, dumps

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.scenario import Parsed, Plan

CONTEXT_WINDOW = 200000
_ROLES = 'messages: roles must alternate between "user" and "assistant"'
_RATE = "This request would exceed your account's rate limit. Please try again later."
_TABLE: dict[str, tuple[int, str, str]] = {
    "bad_json": (
        400,
        "invalid_request_error",
        "There was an error parsing the body of your request",
    ),
    "401": (401, "authentication_error", "invalid x-api-key"),
    "429": (429, "rate_limit_error", _RATE),
    "500": (500, "api_error", "Internal server error"),
    "502": (502, "api_error", "Internal server error"),
    "503": (503, "api_error", "Internal server error"),
    "529": (529, "overloaded_error", "Overloaded"),
    "content_policy": (400, "invalid_request_error", "Output blocked by content filtering policy"),
}
# count_tokens refuses the generation-only fields of a Messages body ("Extra inputs are not
# permitted"), so a gateway that forwards a Messages body unchanged fails here as it would there.
_NOT_COUNTED = (
    "max_tokens",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_k",
    "top_p",
)


def _error_triple(kind: str, ctx: ErrorContext) -> tuple[int, str, str]:
    if kind == "400":
        return 400, "invalid_request_error", ctx.message or _ROLES
    if kind == "leak":
        return 401, "authentication_error", f"invalid x-api-key: {ctx.credential}"
    if kind == "context_length":
        total = CONTEXT_WINDOW + ctx.input_tokens
        return (
            400,
            "invalid_request_error",
            f"prompt is too long: {total} tokens > {CONTEXT_WINDOW} maximum",
        )
    if kind == "denied":
        return 401, "authentication_error", ctx.message or "x-api-key header is required"
    return _TABLE[kind]


def _error_body(kind: str, message: str, request_id: str | None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


def _validate(body: dict[str, Any], *, counting: bool = False) -> tuple[str, list[Any]]:
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise RequestError("model: Field required")
    if counting:
        extra = next((name for name in _NOT_COUNTED if name in body), None)
        if extra is not None:
            raise RequestError(f"{extra}: Extra inputs are not permitted")
    elif not isinstance(body.get("max_tokens"), int):
        raise RequestError("max_tokens: Field required")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: Field required")
    return model, messages


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {dumps(event)}\n\n".encode()


class AnthropicVendor(Vendor):
    name = "anthropic"

    def credential(self, request: Request) -> str:
        """``x-api-key``, or a bearer token (what anthropic SDK 2.x sends for an API key)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else ""
        return request.headers.get("x-api-key", "") or bearer

    def check_auth(self, request: Request) -> Response | None:
        if not self.credential(request):
            return self.error("denied", ErrorContext())
        if not request.headers.get("anthropic-version"):
            return self.error("400", ErrorContext(message="anthropic-version: header is required"))
        return None

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        del request
        model, messages = _validate(body)
        return parse_body(body, messages, model=model, stream=body.get("stream") is True)

    def headers(self, request_id: str) -> dict[str, str]:
        return {"request-id": request_id}

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        status, error_type, message = _error_triple(kind, ctx)
        headers = self.headers(ctx.request_id)
        headers.update(self.retry_headers(status, ctx))
        return json_response(_error_body(error_type, message, ctx.request_id), status, headers)

    def success(self, plan: Plan) -> dict[str, Any]:
        return message(plan, FIRST_PARTY)

    def events(self, plan: Plan) -> list[Ev]:
        return [Ev(_sse(event), kind) for event, kind in stream_events(plan, FIRST_PARTY)]

    def stream_error(self) -> bytes:
        error = {"type": "overloaded_error", "message": "Overloaded"}
        return _sse({"type": "error", "error": error})

    def stream_invalid(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{\n\n'


class AnthropicCountVendor(AnthropicVendor):
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``, N being what a Messages
    call with this prompt reports as input (cached parts included: counting caches nothing)."""

    touches_cache = False

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        del request
        model, messages = _validate(body, counting=True)
        return parse_body(body, messages, model=model, stream=False)

    def success(self, plan: Plan) -> dict[str, Any]:
        return {"input_tokens": plan.parsed.scan.total_tokens()}
