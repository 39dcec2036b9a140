"""Dialect: OpenAI Chat Completions, for OpenAI and every OpenAI-compatible vendor.

Reference: https://platform.openai.com/docs/api-reference/chat (API v1).
Parameters pass through unchanged (the declared passthrough policy); the gateway
only replaces `model`, asks for the usage chunk when streaming, and strips
`metadata`, which is the gateway's own (LiteLLM proxy semantics). A compatible
vendor's documented quirks are its catalog row's data (gateway/providers/catalog.py):
no `stream_options` where it is refused, `max_tokens` where `max_completion_tokens`
is, and the key in the vendor's own header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from gateway import errors
from gateway.providers import failures
from gateway.providers.catalog import CATALOG, ProviderRow, endpoint_url
from gateway.providers.spec import (
    Completion,
    ResponseMeta,
    StreamState,
    Target,
    TokenUsage,
    UpstreamEvent,
    UpstreamRequest,
    require_api_base,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.params import ParamTable
    from gateway.schemas.openai import (
        ChatCompletion,
        ChatCompletionChunk,
        ChatCompletionRequest,
        FinishReason,
    )

PARAMS: ParamTable | None = None  # passthrough
NEEDS_A_TURN = False  # a system message alone is a valid chat request
# https://platform.openai.com/docs/api-reference/chat/create ("Defaults to 1" / "0";
# openai/openai-openapi openapi.yaml: CreateModelResponseProperties temperature and
# top_p `default: 1`; CreateChatCompletionRequest n 1, presence/frequency_penalty 0).
SAMPLING_DEFAULTS: dict[str, Any] = {
    "temperature": 1,
    "top_p": 1,
    "n": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
}
configure = require_api_base  # a compatible server's api_base is required in the config

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "function_call",
    "eos": "stop",
    "end_turn": "stop",
}

ERRORS: dict[str, type[errors.GatewayError]] = {
    "context_length_exceeded": errors.ContextLengthError,
    "string_above_max_length": errors.ContextLengthError,
    "content_policy_violation": errors.ContentPolicyError,
    "content_filter": errors.ContentPolicyError,
    "invalid_prompt": errors.ContentPolicyError,  # a prompt flagged by the usage policy
}

_GATEWAY_ONLY = ("metadata",)
_PLAIN = ProviderRow("openai", "", None, None)  # OpenAI's own behaviour


def endpoint(api_base: str) -> str:
    """LiteLLM accepts api_base with or without the endpoint path."""
    return endpoint_url(api_base, "/chat/completions")


def build_request(request: ChatCompletionRequest, target: Target) -> UpstreamRequest:
    body: dict[str, Any] = request.model_dump(exclude_unset=True, by_alias=True)
    for name in _GATEWAY_ONLY:
        body.pop(name, None)
    body["model"] = target.model
    row = CATALOG.get(target.provider, _PLAIN)
    if row.max_tokens_field and "max_completion_tokens" in body:
        body[row.max_tokens_field] = body.pop("max_completion_tokens")
    stream = bool(request.stream)
    if stream and row.stream_usage:
        # Usage drives cost; the client sees the usage chunk only if it asked.
        body["stream_options"] = {**body.get("stream_options", {}), "include_usage": True}
    elif stream:
        # Refused by the vendor; the pipeline still writes the usage chunk a client asks for.
        body.pop("stream_options", None)
    return UpstreamRequest(
        url=endpoint(target.api_base), body=body, headers=_headers(row, target), stream=stream
    )


def _headers(row: ProviderRow, target: Target) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if target.api_key:
        scheme = f"{row.auth_scheme} " if row.auth_scheme else ""
        headers[row.auth_header] = f"{scheme}{target.api_key}"
    return headers


def usage_of(raw: Any) -> TokenUsage | None:
    if not isinstance(raw, dict):
        return None
    prompt = raw.get("prompt_tokens") or 0
    details = raw.get("prompt_tokens_details") or {}
    out_details = raw.get("completion_tokens_details") or {}
    return TokenUsage(
        input_tokens=int(prompt),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cache_read_tokens=int(details.get("cached_tokens") or 0),
        reasoning_tokens=int(out_details.get("reasoning_tokens") or 0),
    )


def _finish(reason: Any) -> FinishReason | None:
    if reason is None:
        return None
    return FINISH_REASONS.get(str(reason), "stop")


def parse_response(body: bytes, meta: ResponseMeta) -> Completion:
    data = failures.json_object(body)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise errors.UpstreamError("The provider sent a response without choices.")
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            raise errors.UpstreamError("The provider sent a malformed choice.")
        choice["finish_reason"] = _finish(choice.get("finish_reason")) or "stop"
    data.update(id=meta.id, model=meta.model, object="chat.completion", created=meta.created)
    # Passthrough: the vendor's fields stay (logprobs, service_tier, ...); checked above.
    response = cast("ChatCompletion", data)
    return Completion(response=response, usage=usage_of(data.get("usage")) or TokenUsage())


@dataclass(slots=True)
class OpenAIStreamState(StreamState):
    pass


def new_stream_state(meta: ResponseMeta) -> OpenAIStreamState:
    return OpenAIStreamState(meta=meta)


def parse_stream_event(state: OpenAIStreamState, event: UpstreamEvent) -> list[ChatCompletionChunk]:
    if event.data == "[DONE]":
        state.done = True
        return []
    data = failures.json_object(event.data)
    if "error" in data:
        raise _error_from(data, 200, {})
    usage = usage_of(data.pop("usage", None))
    if usage is not None:
        state.usage = usage
    choices = data.get("choices")
    if not choices:
        return []  # the usage chunk: re-emitted by the pipeline when asked for
    for choice in choices:
        reason = _finish(choice.get("finish_reason"))
        choice["finish_reason"] = reason
        if reason is not None:
            state.finish_reason = reason
    data.update(id=state.meta.id, model=state.meta.model, created=state.meta.created)
    return [data]  # type: ignore[list-item]


def finish_stream(state: OpenAIStreamState) -> list[ChatCompletionChunk]:
    if state.finish_reason is None:
        raise errors.UpstreamError("The provider's stream ended before it finished.")
    return []


def _error_from(data: Any, status: int, headers: Mapping[str, str]) -> errors.GatewayError:
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        # vLLM and Cohere put a top-level `message`; FastAPI servers a string `detail`.
        top = data if isinstance(data, dict) else {}
        detail = failures.vendor_message(top.get("message") or top.get("detail"))
        return failures.for_status(status if status >= 400 else 502, detail, headers)
    detail = failures.vendor_message(err.get("message"))
    kind = ERRORS.get(str(err.get("code"))) or ERRORS.get(str(err.get("type")))
    if kind is not None:
        return kind(detail or "The provider rejected the request.")
    if status < 400:  # an error event inside a 200 stream
        return errors.UpstreamError(f"The provider failed mid-stream: {detail}")
    mapped = failures.for_status(status, detail, headers)
    param = err.get("param")
    if mapped.status == 400 and isinstance(param, str):
        mapped.param = param
    return mapped


def map_error(status: int, body: bytes, headers: Mapping[str, str]) -> errors.GatewayError:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    return _error_from(data, status, headers)
