"""OpenAI Chat Completions: ``POST /v1/chat/completions`` (JSON or SSE) and ``GET /v1/models``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from gateway.local.simulator.engine import ErrorContext, Ev, Vendor, json_response
from gateway.local.simulator.scenario import (
    TOOL_ARGUMENTS_JSON,
    Parsed,
    PromptScan,
    RequestError,
    as_list,
    content_text,
    dumps,
    mask_key,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.scenario import Plan

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1")
CONTEXT_WINDOW = 128000
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
_BAD_KEY = (
    "Incorrect API key provided: {key}. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)
_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
_OVERLOADED = (
    "That model is currently overloaded with other requests. You can retry your request, or "
    "contact us through our help center at help.openai.com if the error persists."
)
_POLICY = (
    "Invalid prompt: your prompt was flagged as potentially violating our usage policy. "
    "Please try again with a different prompt: "
    "https://platform.openai.com/docs/guides/reasoning#advice-on-prompting"
)


def _error(
    message: str, kind: str, param: str | None = None, code: object = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _rate_limit(ctx: ErrorContext) -> dict[str, Any]:
    message = (
        f"Rate limit reached for {ctx.model} in organization org-simulator on requests per min "
        f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {ctx.retry_wait()}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more."
    )
    return _error(message, "requests", None, "rate_limit_exceeded")


def _context_length(tokens: int) -> dict[str, Any]:
    message = (
        f"This model's maximum context length is {CONTEXT_WINDOW} tokens. However, your "
        f"messages resulted in {CONTEXT_WINDOW + tokens} tokens. Please reduce the length of "
        "the messages."
    )
    return _error(message, "invalid_request_error", "messages", "context_length_exceeded")


def _error_body(kind: str, ctx: ErrorContext) -> tuple[int, dict[str, Any]]:
    if kind == "400":
        message = ctx.message or "Missing required parameter: 'messages'."
        param = ctx.param if ctx.message else "messages"
        return 400, _error(message, "invalid_request_error", param, "missing_required_parameter")
    table: dict[str, tuple[int, dict[str, Any]]] = {
        "bad_json": (400, _error(_BAD_JSON, "invalid_request_error")),
        "denied": (401, _error(_NO_KEY, "invalid_request_error")),
        "401": (
            401,
            _error(
                _BAD_KEY.format(key=mask_key(ctx.credential)),
                "invalid_request_error",
                None,
                "invalid_api_key",
            ),
        ),
        "leak": (
            401,
            _error(
                _BAD_KEY.format(key=ctx.credential),
                "invalid_request_error",
                None,
                "invalid_api_key",
            ),
        ),
        "429": (429, _rate_limit(ctx)),
        "500": (500, _error(_SERVER_ERROR, "server_error")),
        "502": (
            502,
            {
                "error": {
                    "code": 502,
                    "message": "Bad gateway.",
                    "param": None,
                    "type": "cf_bad_gateway",
                }
            },
        ),
        "503": (503, _error(_OVERLOADED, "server_error")),
        "529": (503, _error(_OVERLOADED, "server_error")),
        "context_length": (400, _context_length(ctx.input_tokens)),
        "content_policy": (400, _error(_POLICY, "invalid_request_error", None, "invalid_prompt")),
    }
    return table[kind]


def _tool_name(tool: object) -> str | None:
    if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
        name = tool["function"].get("name")
        return name if isinstance(name, str) else None
    return None


def _forced_tool(choice: object) -> str | None:
    if choice == "required":
        return ""
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return str(choice["function"].get("name", ""))
    return None


def _scan(messages: list[Any], tools: list[Any]) -> PromptScan:
    scan = PromptScan()
    for tool in tools:
        scan.add(dumps(tool))
    for message in messages:
        if isinstance(message, dict):
            scan.add(content_text(message.get("content")))
    return scan


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


class OpenAIVendor(Vendor):
    name = "openai"
    retry_after_ms_header = "retry-after-ms"  # OpenAI's SDKs read it before retry-after

    def credential(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def check_auth(self, request: Request) -> Response | None:
        if self.credential(request):
            return None
        return self.error("denied", ErrorContext())

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            raise RequestError("Missing required parameter: 'model'.", "model")
        if not isinstance(messages, list) or not messages:
            raise RequestError("Missing required parameter: 'messages'.", "messages")
        del request
        raw_tools = as_list(body.get("tools"))
        choice = body.get("tool_choice")
        tools = [] if choice == "none" else [n for n in map(_tool_name, raw_tools) if n]
        options = body.get("stream_options")
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        return Parsed(
            model=model,
            stream=body.get("stream") is True,
            user_text=_last_user_text(messages),
            scan=_scan(messages, raw_tools),
            tools=tools,
            forced_tool=_forced_tool(choice),
            after_tool_result=last.get("role") == "tool",
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        )

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        status, body = _error_body(kind, ctx)
        headers = self.headers(ctx.request_id)
        headers.update(self.retry_headers(status, ctx))
        return json_response(body, status, headers)

    def _usage(self, plan: Plan) -> dict[str, Any]:
        prompt = plan.input_tokens + plan.cache_read + plan.cache_write
        return {
            "prompt_tokens": prompt,
            "completion_tokens": plan.output_tokens,
            "total_tokens": prompt + plan.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _base(self, plan: Plan, obj: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-sim{plan.seq:06d}",
            "object": obj,
            "created": int(time.time()),
            "model": plan.model,
            "service_tier": "default",
            "system_fingerprint": "fp_simulator",
        }

    def _tool_call(self, plan: Plan) -> dict[str, Any]:
        return {
            "id": f"call_sim{plan.seq:06d}",
            "type": "function",
            "function": {"name": plan.tool},
        }

    def success(self, plan: Plan) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": plan.reply or None}
        message.update(refusal=None, annotations=[])
        if plan.tool:
            call = self._tool_call(plan)
            call["function"]["arguments"] = TOOL_ARGUMENTS_JSON
            message["tool_calls"] = [call]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(plan)}
        return {
            **self._base(plan, "chat.completion"),
            "choices": [choice],
            "usage": self._usage(plan),
        }

    def events(self, plan: Plan) -> list[Ev]:
        base = self._base(plan, "chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            body: dict[str, Any] = {**base, "choices": [choice]}
            if plan.parsed.include_usage:
                body["usage"] = None
            return _sse(body)

        events = [Ev(chunk(self._first_delta(plan)))]
        events += [Ev(chunk(delta), "delta") for delta in self._deltas(plan)]
        events.append(Ev(chunk({}, _finish(plan)), "tail"))
        if plan.parsed.include_usage:
            events.append(Ev(_sse({**base, "choices": [], "usage": self._usage(plan)}), "tail"))
        events.append(Ev(b"data: [DONE]\n\n", "tail"))
        return events

    def _first_delta(self, plan: Plan) -> dict[str, Any]:
        if not plan.tool:
            return {"role": "assistant", "content": "", "refusal": None}
        call = {"index": 0, **self._tool_call(plan)}
        call["function"]["arguments"] = ""
        return {"role": "assistant", "content": None, "tool_calls": [call]}

    def _deltas(self, plan: Plan) -> list[dict[str, Any]]:
        if plan.tool:
            fragments = plan.argument_chunks
            return [{"tool_calls": [{"index": 0, "function": {"arguments": f}}]} for f in fragments]
        return [{"content": piece} for piece in plan.text_chunks]

    def stream_error(self) -> bytes:
        return _sse(_error(_SERVER_ERROR, "server_error"))

    def stream_invalid(self) -> bytes:
        return b'data: {"id": "chatcmpl-sim", "choices": [}\n\n'


def _finish(plan: Plan) -> str:
    return "tool_calls" if plan.tool else "stop"


def _sse(body: object) -> bytes:
    return f"data: {dumps(body)}\n\n".encode()


async def list_models(request: Request) -> Response:
    del request
    data = [
        {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"} for m in MODELS
    ]
    return JSONResponse({"object": "list", "data": data})
