"""Anthropic Messages: ``POST /v1/messages`` (JSON or SSE with named events)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.local.simulator.engine import ErrorContext, Ev, Vendor, json_response
from gateway.local.simulator.scenario import (
    TOOL_ARGUMENTS,
    Parsed,
    PromptScan,
    RequestError,
    as_dict,
    as_list,
    content_text,
    dumps,
    signature_for,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.engine import Kind
    from gateway.local.simulator.scenario import Plan

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
_THINKING_TYPES = ("enabled", "adaptive")


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


def _add_blocks(scan: PromptScan, content: object) -> None:
    """Add each block; a block with ``cache_control`` ends a cacheable prefix."""
    if not isinstance(content, list):
        scan.add(content_text(content))
        return
    for block in content:
        scan.add(content_text([block]))
        if isinstance(block, dict) and block.get("cache_control"):
            scan.mark()


def _scan(body: dict[str, Any], messages: list[Any]) -> PromptScan:
    scan = PromptScan()
    for tool in as_list(body.get("tools")):
        scan.add(dumps(tool))
        if isinstance(tool, dict) and tool.get("cache_control"):
            scan.mark()
    if "system" in body:
        _add_blocks(scan, body["system"])
    for message in messages:
        if isinstance(message, dict):
            _add_blocks(scan, message.get("content"))
    return scan


def _tools(body: dict[str, Any]) -> tuple[list[str], str | None]:
    tools = as_list(body.get("tools"))
    names = [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
    choice = as_dict(body.get("tool_choice"))
    kind = choice.get("type")
    if kind == "none":
        return [], None
    if kind == "any":
        return names, ""
    if kind == "tool":
        return names, str(choice.get("name", ""))
    return names, None


def _has_tool_result(message: object) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def _validate(body: dict[str, Any]) -> tuple[str, list[Any]]:
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise RequestError("model: Field required")
    if not isinstance(body.get("max_tokens"), int):
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
        tools, forced = _tools(body)
        thinking = as_dict(body.get("thinking"))
        return Parsed(
            model=model,
            stream=body.get("stream") is True,
            user_text=_last_user_text(messages),
            scan=_scan(body, messages),
            tools=tools,
            forced_tool=forced,
            after_tool_result=_has_tool_result(messages[-1]),
            thinking=thinking.get("type") in _THINKING_TYPES,
        )

    def headers(self, request_id: str) -> dict[str, str]:
        return {"request-id": request_id}

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        status, error_type, message = _error_triple(kind, ctx)
        headers = self.headers(ctx.request_id)
        headers.update(self.retry_headers(status, ctx))
        return json_response(_error_body(error_type, message, ctx.request_id), status, headers)

    def _usage(self, plan: Plan, output_tokens: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "input_tokens": plan.input_tokens,
            "cache_creation_input_tokens": plan.cache_write,
            "cache_read_input_tokens": plan.cache_read,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }
        return usage

    def _envelope(
        self, plan: Plan, content: list[dict[str, Any]], stop: str | None, out: int
    ) -> dict[str, Any]:
        return {
            "id": f"msg_sim{plan.seq:018d}",
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self._usage(plan, out),
        }

    def _blocks(self, plan: Plan) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if plan.thinking_text:
            signature = signature_for(plan.thinking_text)
            blocks.append(
                {"type": "thinking", "thinking": plan.thinking_text, "signature": signature}
            )
        if plan.tool:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": self._tool_id(plan),
                    "name": plan.tool,
                    "input": TOOL_ARGUMENTS,
                }
            )
        else:
            blocks.append({"type": "text", "text": plan.reply})
        return blocks

    def _tool_id(self, plan: Plan) -> str:
        return f"toolu_sim{plan.seq:015d}"

    def success(self, plan: Plan) -> dict[str, Any]:
        return self._envelope(plan, self._blocks(plan), _stop(plan), plan.output_tokens)

    def events(self, plan: Plan) -> list[Ev]:
        start = {"type": "message_start", "message": self._envelope(plan, [], None, 1)}
        events = [Ev(_sse(start))]
        index = 0
        if plan.thinking_text:
            events += self._thinking_events(plan, index)
            index += 1
        events += self._tool_events(plan, index) if plan.tool else self._text_events(plan, index)
        events.insert(2, Ev(_sse({"type": "ping"})))  # after the first content_block_start
        usage = self._usage(plan, plan.output_tokens)
        del usage["service_tier"]
        stop = {"stop_reason": _stop(plan), "stop_sequence": None}
        events.append(Ev(_sse({"type": "message_delta", "delta": stop, "usage": usage}), "tail"))
        events.append(Ev(_sse({"type": "message_stop"}), "tail"))
        return events

    def _block_events(
        self, index: int, block: dict[str, Any], deltas: list[dict[str, Any]]
    ) -> list[Ev]:
        events = [Ev(_sse({"type": "content_block_start", "index": index, "content_block": block}))]
        for delta in deltas:
            kind: Kind = "meta" if delta["type"] == "signature_delta" else "delta"
            events.append(
                Ev(_sse({"type": "content_block_delta", "index": index, "delta": delta}), kind)
            )
        events.append(Ev(_sse({"type": "content_block_stop", "index": index})))
        return events

    def _thinking_events(self, plan: Plan, index: int) -> list[Ev]:
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in plan.thinking_chunks]
        deltas.append({"type": "signature_delta", "signature": signature_for(plan.thinking_text)})
        block = {"type": "thinking", "thinking": "", "signature": ""}
        return self._block_events(index, block, deltas)

    def _text_events(self, plan: Plan, index: int) -> list[Ev]:
        deltas = [{"type": "text_delta", "text": piece} for piece in plan.text_chunks]
        return self._block_events(index, {"type": "text", "text": ""}, deltas)

    def _tool_events(self, plan: Plan, index: int) -> list[Ev]:
        block: dict[str, Any] = {"type": "tool_use", "id": self._tool_id(plan)}
        block.update(name=plan.tool, input={})
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in plan.argument_chunks]
        return self._block_events(index, block, deltas)

    def stream_error(self) -> bytes:
        error = {"type": "overloaded_error", "message": "Overloaded"}
        return _sse({"type": "error", "error": error})

    def stream_invalid(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{\n\n'


def _stop(plan: Plan) -> str:
    return "tool_use" if plan.tool else "end_turn"
