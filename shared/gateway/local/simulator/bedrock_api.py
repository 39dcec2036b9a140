"""AWS Bedrock Runtime Converse: ``POST /model/{modelId}/converse`` and ``.../converse-stream``.

Shapes follow the bedrock-runtime service model shipped with botocore. Errors are
restJson1: the HTTP status, header ``x-amzn-ErrorType`` and body ``{"message": ...}``.
The stream is ``application/vnd.amazon.eventstream``; like the real service, every
event payload carries a ``p`` padding field, text blocks get no ``contentBlockStart``,
and a failure mid-stream is an ``exception`` message.
SigV4 is not verified; an ``authorization`` header is required.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.local.simulator.engine import ErrorContext, Ev, Kind, Vendor, json_response
from gateway.local.simulator.eventstream import encode_event, encode_exception
from gateway.local.simulator.scenario import (
    TOOL_ARGUMENTS,
    Parsed,
    PromptScan,
    RequestError,
    as_dict,
    as_list,
    dumps,
    signature_for,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.scenario import Plan

_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_INTERNAL = "The system encountered an unexpected error during processing. Try your request again."
_UNAVAILABLE = "Bedrock is unable to process your request."
_UNRECOGNIZED = "The security token included in the request is invalid."
_TABLE: dict[str, tuple[int, str, str]] = {
    "bad_json": (400, "SerializationException", "Unexpected character in request body."),
    "denied": (403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
    "401": (403, "UnrecognizedClientException", _UNRECOGNIZED),
    "429": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "500": (500, "InternalServerException", _INTERNAL),
    "502": (502, "InternalServerException", _INTERNAL),
    "503": (503, "ServiceUnavailableException", _UNAVAILABLE),
    "529": (503, "ServiceUnavailableException", _UNAVAILABLE),
    "context_length": (400, "ValidationException", "Input is too long for requested model."),
    # Reached only where a filter is an error, not a stop (InvokeModel: Claude's own answer).
    "content_policy": (400, "ValidationException", "Output blocked by content filtering policy"),
}
_FIRST_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts "
    "with a user message."
)
LATENCY_MS = 100
_Raw = tuple[str, dict[str, Any], Kind]


def _error_triple(kind: str, ctx: ErrorContext) -> tuple[int, str, str]:
    if kind == "400":
        return 400, "ValidationException", ctx.message or _FIRST_USER
    if kind == "leak":
        return (
            403,
            "UnrecognizedClientException",
            f"{_UNRECOGNIZED} Authorization: {ctx.credential}",
        )
    return _TABLE[kind]


def _add_blocks(scan: PromptScan, blocks: object) -> None:
    """Text-bearing blocks add text; a ``cachePoint`` block ends a cacheable prefix."""
    if not isinstance(blocks, list):
        return
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if "cachePoint" in block:
            scan.mark()
        else:
            scan.add(_block_text(block))


def _block_text(block: dict[str, Any]) -> str:
    if isinstance(block.get("text"), str):
        return str(block["text"])
    result = block.get("toolResult")
    if isinstance(result, dict) and isinstance(result.get("content"), list):
        parts = [p for p in result["content"] if isinstance(p, dict)]
        return " ".join(
            p["text"] if isinstance(p.get("text"), str) else dumps(p.get("json")) for p in parts
        )
    if "toolSpec" in block:
        return dumps(block["toolSpec"])
    return ""


def _text(blocks: object) -> str:
    if not isinstance(blocks, list):
        return ""
    return " ".join(_block_text(b) for b in blocks if isinstance(b, dict))


def _tools(body: dict[str, Any]) -> tuple[list[Any], list[str], str | None]:
    config = as_dict(body.get("toolConfig"))
    tools = as_list(config.get("tools"))
    names = [
        t["toolSpec"]["name"]
        for t in tools
        if isinstance(t, dict) and isinstance(t.get("toolSpec"), dict) and "name" in t["toolSpec"]
    ]
    choice = as_dict(config.get("toolChoice"))
    if "any" in choice:
        return tools, names, ""
    if isinstance(choice.get("tool"), dict):
        return tools, names, str(choice["tool"].get("name", ""))
    return tools, names, None


def _thinking(body: dict[str, Any]) -> bool:
    """Claude's `thinking`, or Nova 2's `reasoningConfig`, asks for reasoning."""
    extra = body.get("additionalModelRequestFields")
    extra = extra if isinstance(extra, dict) else {}
    thinking, nova = extra.get("thinking"), extra.get("reasoningConfig")
    if isinstance(nova, dict) and nova.get("type") == "enabled":
        return True
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _last_user(messages: list[Any]) -> dict[str, Any]:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message
    return {}


def _validate(messages: object) -> list[Any]:
    if not isinstance(messages, list) or not messages:
        raise RequestError(
            "1 validation error detected: Value null at 'messages' failed to satisfy "
            "constraint: Member must not be null"
        )
    first = messages[0]
    if not isinstance(first, dict) or first.get("role") != "user":
        raise RequestError(_FIRST_USER)
    return messages


def parse_converse(body: dict[str, Any], model: str, *, stream: bool) -> Parsed:
    """A Converse body (also CountTokens' ``input.converse``) in vendor-neutral terms."""
    messages = _validate(body.get("messages"))
    raw_tools, names, forced = _tools(body)
    scan = PromptScan()
    _add_blocks(scan, raw_tools)
    _add_blocks(scan, body.get("system"))
    for message in messages:
        if isinstance(message, dict):
            _add_blocks(scan, message.get("content"))
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    content = as_list(last.get("content"))
    return Parsed(
        model=model,
        stream=stream,
        user_text=_text(_last_user(messages).get("content")),
        scan=scan,
        tools=names,
        forced_tool=forced,
        after_tool_result=any(isinstance(b, dict) and "toolResult" in b for b in content),
        thinking=_thinking(body),
    )


class BedrockVendor(Vendor):
    stream_media_type = "application/vnd.amazon.eventstream"
    content_policy_is_stop = True  # stopReason "content_filtered", like a model-side filter

    def __init__(self, *, stream: bool) -> None:
        self.stream = stream
        self.name = "bedrock"

    def credential(self, request: Request) -> str:
        return request.headers.get("authorization", "")

    def check_auth(self, request: Request) -> Response | None:
        return None if self.credential(request) else self.error("denied", ErrorContext())

    def request_id(self, seq: int) -> str:
        return f"00000000-0000-4000-8000-{seq:012d}"

    def headers(self, request_id: str) -> dict[str, str]:
        return {"x-amzn-RequestId": request_id}

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        return parse_converse(body, str(request.path_params["model_id"]), stream=self.stream)

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        status, error_type, message = _error_triple(kind, ctx)
        headers = {**self.headers(ctx.request_id), "x-amzn-ErrorType": error_type}
        headers.update(self.retry_headers(status, ctx))
        return json_response({"message": message}, status, headers)

    def _usage(self, plan: Plan) -> dict[str, Any]:
        usage = {
            "inputTokens": plan.input_tokens,
            "outputTokens": plan.output_tokens,
            "totalTokens": plan.input_tokens
            + plan.output_tokens
            + plan.cache_read
            + plan.cache_write,
        }
        if plan.parsed.scan.breakpoint:
            usage.update(
                cacheReadInputTokens=plan.cache_read, cacheWriteInputTokens=plan.cache_write
            )
        return usage

    def _tool_id(self, plan: Plan) -> str:
        return f"tooluse_sim{plan.seq:012d}"

    def _content(self, plan: Plan) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        if plan.thinking_text:
            text = {"text": plan.thinking_text, "signature": signature_for(plan.thinking_text)}
            content.append({"reasoningContent": {"reasoningText": text}})
        if plan.tool:
            tool = {"toolUseId": self._tool_id(plan), "name": plan.tool, "input": TOOL_ARGUMENTS}
            content.append({"toolUse": tool})
        elif not plan.refused:
            content.append({"text": plan.reply})
        return content

    def success(self, plan: Plan) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": self._content(plan)}},
            "stopReason": _stop(plan),
            "usage": self._usage(plan),
            "metrics": {"latencyMs": LATENCY_MS},
        }

    def events(self, plan: Plan) -> list[Ev]:
        raw: list[_Raw] = [("messageStart", {"role": "assistant"}, "meta")]
        index = 0
        if plan.thinking_text:
            raw += _reasoning_events(plan, index)
            index += 1
        if plan.tool:
            raw += self._tool_events(plan, index)
        elif not plan.refused:
            raw += _block(index, [{"text": piece} for piece in plan.text_chunks])
        raw.append(("messageStop", {"stopReason": _stop(plan)}, "tail"))
        metadata = {"usage": self._usage(plan), "metrics": {"latencyMs": LATENCY_MS}}
        raw.append(("metadata", metadata, "tail"))
        return [_event(n, name, body, kind) for n, (name, body, kind) in enumerate(raw)]

    def _tool_events(self, plan: Plan, index: int) -> list[_Raw]:
        start = {"toolUse": {"toolUseId": self._tool_id(plan), "name": plan.tool}}
        deltas = [{"toolUse": {"input": piece}} for piece in plan.argument_chunks]
        head: _Raw = ("contentBlockStart", {"contentBlockIndex": index, "start": start}, "meta")
        return [head, *_block(index, deltas)]

    def stream_error(self) -> bytes:
        message = "An error occurred while streaming the response. Retry your request."
        return encode_exception("modelStreamErrorException", {"message": message})

    def stream_invalid(self) -> bytes:
        return encode_event("contentBlockDelta", None, raw=b'{"contentBlockIndex":0,"delta":{')


def _block(index: int, deltas: list[dict[str, Any]]) -> list[_Raw]:
    events: list[_Raw] = [
        ("contentBlockDelta", {"contentBlockIndex": index, "delta": d}, "delta") for d in deltas
    ]
    return [*events, ("contentBlockStop", {"contentBlockIndex": index}, "meta")]


def _reasoning_events(plan: Plan, index: int) -> list[_Raw]:
    deltas = [{"reasoningContent": {"text": piece}} for piece in plan.thinking_chunks]
    events = _block(index, deltas)
    signature = {"reasoningContent": {"signature": signature_for(plan.thinking_text)}}
    events.insert(
        -1, ("contentBlockDelta", {"contentBlockIndex": index, "delta": signature}, "meta")
    )
    return events


def padded(position: int, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the ``p`` padding Bedrock adds to every stream event payload."""
    return {**body, "p": _PADDING[: 1 + (position * 7) % len(_PADDING)]}


def _event(position: int, name: str, body: dict[str, Any], kind: Kind) -> Ev:
    return Ev(encode_event(name, padded(position, body)), kind)


def _stop(plan: Plan) -> str:
    if plan.refused:
        return "content_filtered"
    return "tool_use" if plan.tool else "end_turn"
