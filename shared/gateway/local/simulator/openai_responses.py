"""OpenAI Responses: ``POST /v1/responses`` (JSON, or SSE with named events) and
``POST /v1/responses/input_tokens``.

References: https://platform.openai.com/docs/api-reference/responses, as OpenAI's OpenAPI
description 2.3.0 has it (``CreateResponse``, ``TokenCountsBody``, ``TokenCountsResource``,
``ResponseErrorEvent``). This module owns the body's checks, the error bodies and the SSE
framing; the answer is built in ``responses_output``.

The answer is the chat vendor's (``scenario``): the same prompt scan, reply, tool call and
token counts, so a gateway relaying this API and one translating it to chat agree. Beyond
chat: a reasoning model (name starting ``o`` or ``gpt-5``, or any ``reasoning.effort`` but
``none``) puts a ``reasoning`` item first, its summary filled when ``reasoning.summary`` is
set and ``encrypted_content`` when ``include`` asks for it; ``max_output_tokens`` cuts the
answer after the last whole word it pays for and ends the response ``incomplete``. Nothing
is stored: a ``previous_response_id`` is never found, nor (under ``store: false``) a replayed
reasoning item that names its id without its ``encrypted_content``; encrypted content is
sealed to its item's id, and refused back under any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.local.simulator.engine import ErrorContext, Ev, json_response
from gateway.local.simulator.openai_api import OpenAIVendor
from gateway.local.simulator.responses_output import (
    ResponsesRequest,
    response,
    sealed_id,
    stream_events,
)
from gateway.local.simulator.scenario import (
    PromptScan,
    RequestError,
    as_dict,
    as_list,
    content_text,
    dumps,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.scenario import Parsed, Plan

MIN_OUTPUT_TOKENS = 16
ENCRYPTED_REASONING = "reasoning.encrypted_content"
REASONING_MODELS = ("o", "gpt-5")  # name prefixes
_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
_CONTEXT = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)
_NOT_STORED = (
    "Items are not persisted when `store` is set to false. Try again with `store` set to true, "
    "or remove this item from your input."
)
# What each input item must carry (an item without ``type`` is a message).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "message": ("role", "content"),
    "function_call": ("call_id", "name", "arguments"),
    "function_call_output": ("call_id", "output"),
    "reasoning": ("summary",),
}
# input_tokens takes TokenCountsBody's fields only; OpenAI refuses others as unknown, so a
# gateway that forwards a whole create body fails here as it would there.
_COUNTED = frozenset(
    [
        "model",
        "input",
        "previous_response_id",
        "tools",
        "text",
        "reasoning",
        "truncation",
        "instructions",
        "personality",
        "conversation",
        "tool_choice",
        "parallel_tool_calls",
    ]
)
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
)


# --------------------------------------------------------------------------- the request


def _json_type(value: object) -> str:
    return next((name for tp, name in _JSON_TYPES if isinstance(value, tp)), "null")


def _missing(param: str) -> RequestError:
    message = f"Missing required parameter: '{param}'."
    return RequestError(message, param, code="missing_required_parameter")


def _invalid_type(param: str, expected: str, value: object) -> RequestError:
    message = (
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead."
    )
    return RequestError(message, param, code="invalid_type")


def _check_item(item: dict[str, Any], where: str, *, store: bool) -> None:
    kind = item.get("type", "message")
    for name in _REQUIRED.get(kind, ()):
        if name not in item:
            raise _missing(f"{where}.{name}")
    item_id = item.get("id")
    if kind != "reasoning" or not item_id:
        return
    sealed = item.get("encrypted_content")
    if not store and not sealed:
        message = f"Item with id '{item_id}' not found. {_NOT_STORED}"
        raise RequestError(message, "input", status=404)
    if sealed and (not isinstance(sealed, str) or sealed_id(sealed) != item_id):
        raise RequestError(
            f"The encrypted content for item {item_id} could not be verified. Reason: "
            "Encrypted content item_id did not match the target item id.",
            "input",
        )


def _input_items(body: dict[str, Any], *, required: bool) -> list[dict[str, Any]]:
    raw = body.get("input")
    if raw is None and not required:
        return []
    if raw is None:
        raise _missing("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise _invalid_type("input", "one of a string or array of input items", raw)
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _invalid_type(f"input[{index}]", "an object", item)
        _check_item(item, f"input[{index}]", store=body.get("store") is not False)
    return raw


def _tools(body: dict[str, Any]) -> tuple[list[str], str | None]:
    names: list[str] = []
    for index, tool in enumerate(as_list(body.get("tools"))):
        if not isinstance(tool, dict):
            raise _invalid_type(f"tools[{index}]", "an object", tool)
        if tool.get("type") != "function":
            continue
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise _missing(f"tools[{index}].name")  # e.g. a chat-shaped {"function": {...}}
        names.append(tool["name"])
    choice = body.get("tool_choice")
    if choice == "none":
        return [], None
    if choice == "required":
        return names, ""
    if isinstance(choice, dict) and choice.get("type") == "function":
        return names, str(choice.get("name", ""))
    return names, None


def _scan(body: dict[str, Any], items: list[dict[str, Any]]) -> PromptScan:
    """Tools, instructions, then items: what the chat vendor counts for the same prompt."""
    scan = PromptScan()
    for tool in as_list(body.get("tools")):
        scan.add(dumps(tool))
    if isinstance(body.get("instructions"), str):
        scan.add(body["instructions"])
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            scan.add(content_text(item.get("content")))
        elif kind == "function_call_output":
            scan.add(content_text(item.get("output")))
    return scan


def _last_user_text(items: list[dict[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            return content_text(item.get("content"))
    return ""


def _reasoning(model: str, body: dict[str, Any]) -> tuple[bool, str | None]:
    """(thinks, summary mode)."""
    options = as_dict(body.get("reasoning"))
    effort = options.get("effort")
    thinks = effort != "none" and (effort is not None or model.startswith(REASONING_MODELS))
    summary = options.get("summary") or options.get("generate_summary")
    return thinks, summary if thinks and isinstance(summary, str) else None


def _max_output_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid_type("max_output_tokens", "an integer", value)
    if value < MIN_OUTPUT_TOKENS:
        message = (
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "
            f"{MIN_OUTPUT_TOKENS}, but got {value} instead."
        )
        raise RequestError(message, "max_output_tokens", code="integer_below_min_value")
    return value


def _model(body: dict[str, Any], *, required: bool) -> str:
    model = body.get("model")
    if model is None and not required:
        return ""
    if model is None or model == "":
        raise _missing("model")
    if not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    return model


def parse_body(body: dict[str, Any], *, counting: bool = False) -> ResponsesRequest:
    """A create body (or, ``counting``, a TokenCountsBody) in the scenario's terms."""
    if counting:
        extra = next((name for name in body if name not in _COUNTED), None)
        if extra is not None:
            raise RequestError(f"Unknown parameter: '{extra}'.", extra, code="unknown_parameter")
    model = _model(body, required=not counting)
    previous = body.get("previous_response_id")
    if previous is not None:
        message = f"Previous response with id '{previous}' not found."
        raise RequestError(
            message, "previous_response_id", status=404, code="previous_response_not_found"
        )
    items = _input_items(body, required=not counting)
    tools, forced = _tools(body)
    thinks, summary = _reasoning(model, body)
    return ResponsesRequest(
        model=model,
        stream=body.get("stream") is True and not counting,
        user_text=_last_user_text(items),
        scan=_scan(body, items),
        tools=tools,
        forced_tool=forced,
        after_tool_result=bool(items) and items[-1].get("type") == "function_call_output",
        thinking=thinks,
        body=body,
        summary=summary,
        encrypted=ENCRYPTED_REASONING in as_list(body.get("include")),
        max_output_tokens=_max_output_tokens(body),
    )


# --------------------------------------------------------------------------- the vendors


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {dumps(event)}\n\n".encode()


def _error_body(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return {"error": error}


def _rejection(kind: str, ctx: ErrorContext) -> tuple[int, dict[str, Any]] | None:
    """The errors whose Responses body differs from chat's; None: chat's."""
    if kind == "context_length":
        return 400, _error_body(_CONTEXT, "input", "context_length_exceeded")
    if kind != "400":
        return None
    if ctx.message is None:  # the 400 fault
        return 400, _error_body(
            "Missing required parameter: 'input'.", "input", "missing_required_parameter"
        )
    return ctx.status, _error_body(ctx.message, ctx.param, ctx.code)


def _request(plan: Plan) -> ResponsesRequest:
    if not isinstance(plan.parsed, ResponsesRequest):
        raise TypeError("a Responses plan is parsed by parse_body")
    return plan.parsed


class OpenAIResponsesVendor(OpenAIVendor):
    """OpenAI's auth, headers and throttling errors (``OpenAIVendor``), Responses bodies."""

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        del request
        return parse_body(body)

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        rejection = _rejection(kind, ctx)
        if rejection is None:
            return super().error(kind, ctx)
        status, body = rejection
        return json_response(body, status, self.headers(ctx.request_id))

    def success(self, plan: Plan) -> dict[str, Any]:
        return response(plan, _request(plan))

    def events(self, plan: Plan) -> list[Ev]:
        numbered = enumerate(stream_events(plan, _request(plan)))
        return [Ev(_sse({**event, "sequence_number": n}), kind) for n, (event, kind) in numbered]

    def stream_error_after(self, sent: int) -> bytes:
        """``sent`` events went out, numbered from 0: the error is number ``sent``."""
        error = {"type": "error", "code": "server_error", "message": _SERVER_ERROR, "param": None}
        return _sse({**error, "sequence_number": sent})

    def stream_error(self) -> bytes:
        return self.stream_error_after(0)

    def stream_invalid(self) -> bytes:
        event = b"event: response.output_text.delta\n"
        return event + b'data: {"type":"response.output_text.delta","delta":{\n\n'


class OpenAIInputTokensVendor(OpenAIResponsesVendor):
    """``POST /v1/responses/input_tokens``: ``{"object": "response.input_tokens",
    "input_tokens": N}``, N being the ``usage.input_tokens`` a Response to the same prompt
    reports (counting caches nothing)."""

    touches_cache = False

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        del request
        return parse_body(body, counting=True)

    def success(self, plan: Plan) -> dict[str, Any]:
        return {"object": "response.input_tokens", "input_tokens": plan.parsed.scan.total_tokens()}
