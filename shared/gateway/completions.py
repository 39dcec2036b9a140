"""One attempt of a chat completion on one deployment: dialect, transport, cost.

Stream and non-stream share it: one dialect, one state object, one usage map.
A stream's first network read is taken and translated before the attempt counts as
a success, so a failure before the first byte reaches the client is an ordinary
error the router can retry elsewhere. After it, an SSE error event ends the stream
(never a silent cut, never an invented finish_reason). An error raised once the
provider had answered 2xx carries `billed = True`: the provider may charge for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import responses, sse, transport
from gateway.providers.dialects import dialect
from gateway.providers.spec import ResponseMeta, Surface
from gateway.redaction import redact
from gateway.spend.cost import cost_micros, format_usd
from gateway.spend.partial import cut_stream_usage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from gateway.config import Deployment
    from gateway.providers.spec import (
        Speaker,
        StreamState,
        Target,
        TokenUsage,
        UpstreamEvent,
        UpstreamRequest,
    )
    from gateway.schemas.openai import ChatCompletionRequest

logger = logging.getLogger(__name__)

MAX_RECORDED_CHUNKS = 20_000  # a longer stream is not recorded whole, so never cached


class ChatSurface:
    """OpenAI's chat completions: chunks as `data:` events, usage chunk, cost, [DONE]."""

    id_prefix = "chatcmpl-"

    def encode(self, item: Any) -> bytes:
        return sse.encode(item)

    def body(self, response: Any) -> bytes:
        return sse.dumps(response)

    def error(self, error: errors.GatewayError) -> bytes:
        return sse.encode(error.body())

    def tail(
        self,
        request: ChatCompletionRequest,
        meta: ResponseMeta,
        usage: TokenUsage | None,
        cost: int | None,
    ) -> bytes:
        out = b""
        if request.wants_usage_chunk and usage is not None:
            out += sse.encode(responses.usage_chunk(meta, usage))
        return out + cost_comment(cost) + sse.DONE


CHAT = ChatSurface()


def cost_comment(cost: int | None) -> bytes:
    """A stream's cost, as an SSE comment (its headers left before the usage existed)."""
    return b"" if cost is None else f": x-gateway-cost-usd={format_usd(cost)}\n\n".encode()


@dataclass(slots=True)
class Outcome:
    """What the HTTP layer sends: a body or a stream of SSE bytes, and headers."""

    headers: dict[str, str]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    # Releases the upstream stream even if `stream` is never iterated (the client left
    # before the first byte); idempotent.
    close: Callable[[], Awaitable[None]] | None = None
    usage: TokenUsage | None = None
    cost_micros: int | None = field(default=None)
    first_byte_s: float = 0.0  # from the attempt's start to its first translated bytes
    deployment_id: str | None = None  # the deployment that served it
    # Called once with the tokens used when the response has ended (however it ended).
    on_end: list[Callable[[int], Awaitable[None]]] = field(default_factory=list)
    # What the response cache records: a non-streamed answer, or a stream's chunks.
    completion: dict[str, Any] | None = None
    recorded: list[Any] | None = None
    # Called when a stream has ended complete and well-formed (not on failure).
    on_complete: list[Callable[[Outcome], Awaitable[None]]] = field(default_factory=list)
    # Called with the error when a stream fails after its first byte (too late to retry).
    on_failure: list[Callable[[errors.GatewayError], Awaitable[None]]] = field(default_factory=list)
    complete: bool = True  # a stream is complete once its finish chunks went out
    usage_estimated: bool = False  # a cut stream's usage, counted by the gateway
    # Settles a stream's usage and cost when it ends, complete or cut short.
    finalize: Callable[[], None] | None = None

    @property
    def tokens(self) -> int:
        return 0 if self.usage is None else self.usage.input_tokens + self.usage.output_tokens

    async def ended(self) -> None:
        """Run the end hooks (each once, in order; failures are theirs to log)."""
        if self.finalize is not None:
            finalize, self.finalize = self.finalize, None
            finalize()
        hooks, self.on_end = self.on_end, []
        for hook in hooks:
            await hook(self.tokens)


def _headers(request_id: str, target: Target, dropped: tuple[str, ...]) -> dict[str, str]:
    headers = {"x-request-id": request_id, "x-gateway-provider": target.provider}
    if dropped:
        headers["x-gateway-dropped-params"] = ",".join(dropped)
    return headers


def _scrubbed(error: errors.GatewayError, target: Target) -> errors.GatewayError:
    error.message = redact(error.message, target.api_key)
    return error


def _billed(error: errors.GatewayError) -> errors.GatewayError:
    error.billed = True
    return error


async def attempt(
    request: ChatCompletionRequest,
    deployment: Deployment,
    request_id: str,
    *,
    timeout_s: float,
    first_byte_s: float,
    record: bool = False,
    speaker: Speaker | None = None,
    surface: Surface = CHAT,
) -> Outcome:
    """Call one deployment. `timeout_s` bounds each wait on it, `first_byte_s` a stream's
    wait for its first event. Raises GatewayError for anything before the first byte.
    `speaker` replaces the deployment's dialect and `surface` OpenAI's output shapes
    (the Messages API serves other shapes through the same attempt)."""
    target = deployment.target
    speaker = speaker or dialect(target.dialect)
    upstream = speaker.build_request(request, target)
    meta = ResponseMeta(
        id=f"{surface.id_prefix}{request_id}", created=int(time.time()), model=request.model
    )
    headers = _headers(request_id, target, upstream.dropped_params)
    started = time.monotonic()
    if upstream.stream:
        sink: list[Any] | None = [] if record else None
        outcome = await _open_stream(
            (speaker, surface),
            upstream,
            deployment,
            meta,
            request,
            headers,
            (timeout_s, first_byte_s),
            sink,
        )
        outcome.first_byte_s = time.monotonic() - started
        return outcome
    raw = await transport.send(upstream, timeout_s)
    if raw.status >= 400:
        raise _scrubbed(speaker.map_error(raw.status, raw.body, raw.headers), target)
    try:
        completion = speaker.parse_response(raw.body, meta)
    except errors.GatewayError as exc:
        raise _billed(_scrubbed(exc, target)) from None
    cost = cost_micros(completion.usage, deployment)
    if cost is not None:
        headers["x-gateway-cost-usd"] = format_usd(cost)
    body = surface.body(completion.response)
    return Outcome(
        headers=headers,
        body=body,
        usage=completion.usage,
        cost_micros=cost,
        first_byte_s=time.monotonic() - started,
        completion=dict(completion.response) if record else None,
    )


async def _open_stream(
    voice: tuple[Speaker, Surface],
    upstream: UpstreamRequest,
    deployment: Deployment,
    meta: ResponseMeta,
    request: ChatCompletionRequest,
    headers: dict[str, str],
    timeouts: tuple[float, float],
    sink: list[Any] | None,
) -> Outcome:
    target = deployment.target
    speaker = voice[0]
    stack = contextlib.AsyncExitStack()
    state = speaker.new_stream_state(meta)
    try:
        handle = await stack.enter_async_context(transport.open_stream(upstream, timeouts[0]))
        if handle.status >= 400:
            body = await handle.body()
            raise _scrubbed(speaker.map_error(handle.status, body, handle.headers), target)
        if not handle.is_stream():
            raise _billed(
                errors.UpstreamError("The provider answered a stream request without a stream.")
            )
        batches = handle.batches()
        first = await _first_bytes(voice, state, batches, timeouts[1], target, sink)
    except BaseException:
        await stack.aclose()
        raise
    outcome = Outcome(headers=headers, close=stack.aclose, recorded=sink, complete=False)

    def finalize() -> None:
        """A cut stream is charged for what it consumed (gateway/spend/partial.py)."""
        if outcome.complete:
            return
        outcome.usage = cut_stream_usage(request, state.usage, state.chunks)
        outcome.usage_estimated = outcome.usage is not state.usage
        if outcome.usage is not None:
            outcome.cost_micros = cost_micros(outcome.usage, deployment)

    outcome.finalize = finalize
    outcome.stream = _relay(voice, state, first, batches, deployment, meta, request, stack, outcome)
    return outcome


async def _first_bytes(
    voice: tuple[Speaker, Surface],
    state: StreamState,
    batches: AsyncIterator[list[UpstreamEvent]],
    timeout_s: float,
    target: Target,
    sink: list[Any] | None,
) -> bytes:
    """Read until the stream has something for the client (or has ended cleanly)."""
    try:
        async with asyncio.timeout(timeout_s):
            async for batch in batches:
                out, failure = _translate(voice, state, batch, sink)
                if failure is not None:
                    raise failure
                if out:
                    return out
    except TimeoutError:
        raise _billed(errors.UpstreamTimeoutError("The provider sent nothing in time.")) from None
    except errors.GatewayError as exc:
        raise _billed(_scrubbed(exc, target)) from None
    return b""  # ended before any chunk: finish_stream decides whether that is complete


async def _relay(
    voice: tuple[Speaker, Surface],
    state: StreamState,
    first: bytes,
    batches: AsyncIterator[list[UpstreamEvent]],
    deployment: Deployment,
    meta: ResponseMeta,
    request: ChatCompletionRequest,
    stack: contextlib.AsyncExitStack,
    outcome: Outcome,
) -> AsyncIterator[bytes]:
    surface = voice[1]
    try:
        async with stack:
            if first:
                yield first
            async for batch in batches:
                out, failure = _translate(voice, state, batch, outcome.recorded)
                if out:
                    yield out
                if failure is not None:
                    raise failure
            yield _finish(voice, state, outcome.recorded)
        outcome.complete = True
        if state.usage is None:  # a vendor that reports none (catalog stream_usage): estimated
            state.usage = cut_stream_usage(request, None, state.chunks)
            outcome.usage_estimated = state.usage is not None
        if state.usage is not None:
            outcome.cost_micros = cost_micros(state.usage, deployment)
    except errors.GatewayError as exc:
        error = _scrubbed(exc, deployment.target)
        logger.warning("stream failed after start: %s", error.code)
        yield surface.error(error)
        for on_failure in outcome.on_failure:
            await on_failure(error)
        return
    except Exception:
        logger.exception("stream failed after start")
        yield surface.error(errors.InternalError("The gateway failed; retry later."))
        return
    finally:
        outcome.usage = state.usage  # partial on failure or disconnect
    for on_complete in outcome.on_complete:
        await on_complete(outcome)
    yield surface.tail(request, meta, state.usage, outcome.cost_micros)


def _finish(voice: tuple[Speaker, Surface], state: StreamState, sink: list[Any] | None) -> bytes:
    """The closing chunks (finish reason); raises if the stream ended incomplete."""
    speaker, surface = voice
    chunks = speaker.finish_stream(state)
    if sink is not None:
        sink.extend(chunks)
    return b"".join(surface.encode(chunk) for chunk in chunks)


def _translate(
    voice: tuple[Speaker, Surface],
    state: StreamState,
    batch: list[UpstreamEvent],
    sink: list[Any] | None,
) -> tuple[bytes, Exception | None]:
    """One network read's events as SSE bytes; a failure comes after what preceded it.
    With a `sink`, the chunks are also kept (the response cache records a stream)."""
    speaker, surface = voice
    out: list[bytes] = []
    try:
        for event in batch:
            for chunk in speaker.parse_stream_event(state, event):
                state.chunks += 1
                out.append(surface.encode(chunk))
                if sink is not None and len(sink) < MAX_RECORDED_CHUNKS:
                    sink.append(chunk)
    except Exception as exc:  # re-raised by the relay once `out` is sent
        return b"".join(out), exc
    return b"".join(out), None
