"""The Messages API relayed natively to Claude: Anthropic's API, or Bedrock's InvokeModel.

The client's body goes to the provider nearly as written (see each dialect's
`native` module) and the provider's Message or events come back as they are, so
nothing Claude says is lost in translation: thinking and its signatures, tool
input deltas, citations, server tools, cache usage. The gateway changes only the
message's `id` (its own, `msg_<request id>`) and `model` (the name the client
asked for), reads the usage for the spend ledger, and ends a stream that fails
after its first event with an Anthropic `error` event.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from gateway import errors
from gateway.completions import cost_comment
from gateway.messages import errors as shapes
from gateway.providers import failures, sse
from gateway.providers.claude import is_claude, token_usage
from gateway.providers.dialects import dialect
from gateway.providers.spec import Completion, StreamState

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.providers.spec import (
        ResponseMeta,
        Target,
        TokenUsage,
        UpstreamEvent,
        UpstreamRequest,
    )
    from gateway.schemas.openai import ChatCompletionRequest


class NativeApi(Protocol):
    """A dialect's `native` module (gateway/providers/<dialect>/native.py)."""

    def build_messages_request(
        self, body: Mapping[str, Any], target: Target, *, stream: bool, betas: Sequence[str]
    ) -> UpstreamRequest: ...

    def build_count_request(
        self, body: Mapping[str, Any], target: Target, *, betas: Sequence[str]
    ) -> UpstreamRequest: ...

    def count_from(self, body: bytes) -> int: ...

    def messages_event(self, event: UpstreamEvent) -> dict[str, Any] | None: ...


@functools.cache
def _module(name: str) -> NativeApi:
    return cast("NativeApi", importlib.import_module(f"gateway.providers.{name}.native"))


def native_api(target: Target) -> NativeApi | None:
    """How a deployment serves the Messages API natively; None: through chat."""
    if target.dialect == "anthropic" or (target.dialect == "bedrock" and is_claude(target.model)):
        return _module(target.dialect)
    return None


@dataclass(slots=True)
class NativeState(StreamState):
    raw_usage: dict[str, Any] = field(default_factory=dict)  # as last reported


class NativeSpeaker:
    """The Speaker of one request on the native path (the body is bound to it)."""

    def __init__(
        self, api: NativeApi, target: Target, body: Mapping[str, Any], betas: Sequence[str]
    ) -> None:
        self.api = api
        self.body = body
        self.betas = betas
        self.errors = dialect(target.dialect)

    def build_request(self, request: ChatCompletionRequest, target: Target) -> UpstreamRequest:
        stream = bool(request.stream)
        return self.api.build_messages_request(self.body, target, stream=stream, betas=self.betas)

    def parse_response(self, body: bytes, meta: ResponseMeta) -> Completion:
        message = failures.json_object(body)
        if message.get("type") != "message" or not isinstance(message.get("content"), list):
            raise errors.UpstreamError("The provider sent a malformed response.")
        message["id"], message["model"] = meta.id, meta.model
        usage = message.get("usage")
        return Completion(message, token_usage(usage if isinstance(usage, dict) else {}))

    def new_stream_state(self, meta: ResponseMeta) -> NativeState:
        return NativeState(meta=meta)

    def parse_stream_event(self, state: NativeState, event: UpstreamEvent) -> list[Any]:
        data = self.api.messages_event(event)
        if data is None:
            return []
        kind = data.get("type")
        if kind == "message_start":
            message = data.get("message")
            if not isinstance(message, dict):
                raise errors.UpstreamError("The provider sent a malformed stream event.")
            message["id"], message["model"] = state.meta.id, state.meta.model
            _count(state, message.get("usage"))
        elif kind == "message_delta":
            _count(state, data.get("usage"))
        elif kind == "message_stop":
            state.done = True
        if kind != "content_block_delta":
            # The relay counts every item as a token of a cut stream's estimate; framing
            # events (starts, stops, pings) carry none.
            state.chunks -= 1
        return [data]

    def finish_stream(self, state: NativeState) -> list[Any]:
        if not state.done:
            raise errors.UpstreamError("The provider's stream ended before it finished.")
        return []

    def map_error(
        self, status: int, body: bytes, headers: Mapping[str, str]
    ) -> errors.GatewayError:
        return self.errors.map_error(status, body, headers)


def _count(state: NativeState, raw: object) -> None:
    """message_start carries the input, message_delta the cumulative output."""
    if isinstance(raw, dict):
        state.raw_usage.update({k: v for k, v in raw.items() if v is not None})
        state.usage = token_usage(state.raw_usage)


class NativeSurface:
    """Anthropic events as named SSE events; the cost as a comment at the end."""

    id_prefix = "msg_"

    def encode(self, item: Any) -> bytes:
        return sse.encode_event(str(item.get("type", "message")), item)

    def body(self, response: Any) -> bytes:
        return sse.dumps(response)

    def error(self, error: errors.GatewayError) -> bytes:
        return shapes.event(error)

    def tail(
        self,
        request: ChatCompletionRequest,
        meta: ResponseMeta,
        usage: TokenUsage | None,
        cost: int | None,
    ) -> bytes:
        del request, meta, usage  # message_delta and message_stop were relayed already
        return cost_comment(cost)


NATIVE = NativeSurface()
