"""The contract between the request pipeline and a provider dialect.

A dialect is a module with pure functions (no I/O):

    build_request(request, target) -> UpstreamRequest
    parse_response(body, meta) -> Completion
    new_stream_state(meta) -> StreamState
    parse_stream_event(state, event) -> list[ChatCompletionChunk]
    finish_stream(state) -> list[ChatCompletionChunk]   # raises if the stream was cut
    map_error(status, body, headers) -> GatewayError
    configure(target) -> Target     # at config load; ValueError names what is wrong

and the tables PARAMS, FINISH_REASONS, ERRORS, NEEDS_A_TURN and SAMPLING_DEFAULTS.
The transport does the I/O. A dialect holds all its vendor's knowledge: adding one
touches gateway/providers/ (its module and a catalog row) and the tests only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.errors import GatewayError
    from gateway.providers.oauth import Grant
    from gateway.providers.params import ParamTable
    from gateway.schemas.openai import (
        ChatCompletion,
        ChatCompletionRequest,
        FinishReason,
    )

Framing = Literal["sse", "eventstream"]


@dataclass(frozen=True, slots=True)
class Target:
    """One deployment, resolved: where to send, with which credentials, which model."""

    model_name: str  # the public name clients ask for
    provider: str  # catalog row name, e.g. "openai", "groq", "anthropic", "bedrock"
    dialect: str  # module name under gateway.providers
    model: str  # the upstream model id
    api_base: str
    api_key: str | None = None
    region: str | None = None
    timeout_s: float = 600.0
    extra: Mapping[str, Any] = field(default_factory=dict)  # other litellm_params


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    framing: Framing = "sse"
    sigv4_region: str | None = None  # set: the transport signs for service "bedrock"
    oauth: Grant | None = None  # set: the transport adds a minted bearer token (oauth.py)
    dropped_params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UpstreamEvent:
    """One frame of an upstream stream: an SSE event or an AWS event-stream message."""

    name: str  # SSE `event:` (default "message"); event-stream :event-type/:exception-type
    data: str
    is_exception: bool = False


@dataclass(slots=True)
class TokenUsage:
    """Tokens as billed. `input_tokens` counts every prompt token, cached ones included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """What every response and chunk of one request shares."""

    id: str
    created: int
    model: str


@dataclass(slots=True)
class Completion:
    response: ChatCompletion | Mapping[str, Any]  # an Anthropic Message on the native path
    usage: TokenUsage


@dataclass(slots=True)
class StreamState:
    """Memory across the events of one stream; dialects subclass it."""

    meta: ResponseMeta
    usage: TokenUsage | None = None
    finish_reason: FinishReason | None = None
    done: bool = False
    chunks: int = 0  # chunks translated so far: the output estimate of a cut stream


class Surface(Protocol):
    """The API shape a client asked for (OpenAI chat, Anthropic Messages): how the items
    a dialect yields (chunks, events) and its errors are written on the wire."""

    id_prefix: str  # of the gateway's response ids: "chatcmpl-", "msg_"

    def encode(self, item: Any) -> bytes: ...

    def body(self, response: Any) -> bytes: ...

    def error(self, error: GatewayError) -> bytes: ...

    def tail(
        self,
        request: ChatCompletionRequest,
        meta: ResponseMeta,
        usage: TokenUsage | None,
        cost: int | None,
    ) -> bytes: ...


class Speaker(Protocol):
    """What one attempt calls: a dialect, or the Messages API's native relay."""

    def build_request(self, request: ChatCompletionRequest, target: Target) -> UpstreamRequest: ...

    def parse_response(self, body: bytes, meta: ResponseMeta) -> Completion: ...

    def new_stream_state(self, meta: ResponseMeta) -> StreamState: ...

    def parse_stream_event(self, state: Any, event: UpstreamEvent) -> list[Any]: ...

    def finish_stream(self, state: Any) -> list[Any]: ...

    def map_error(self, status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError: ...


class Dialect(Speaker, Protocol):
    PARAMS: ParamTable
    FINISH_REASONS: Mapping[str, FinishReason]
    ERRORS: Mapping[Any, type[GatewayError]]
    # Whether a request of system messages alone is refused (param "messages"): the API
    # needs a user or assistant turn to answer.
    NEEDS_A_TURN: bool
    # The sampling values the vendor documents for an omitted field (the response cache
    # treats omitted and default alike). They hold only for the dialect's own vendor at
    # its own host (the catalog row named like the dialect): none for other vendors or
    # self-hosted servers that speak the same API, whose defaults vary by model.
    SAMPLING_DEFAULTS: Mapping[str, Any]

    def configure(self, target: Target) -> Target: ...


def require_api_base(target: Target) -> Target:
    """`configure` for an API with no default endpoint of its own in the config."""
    if not target.api_base:
        raise ValueError("needs an api_base")
    return target
