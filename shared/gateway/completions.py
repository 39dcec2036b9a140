"""The request path of a chat completion: deployment, dialect, transport, cost.

Stream and non-stream share it: one dialect, one state object, one usage map.
Failures before the first byte become HTTP errors; after it, an SSE error event
ends the stream (never a silent cut, never an invented finish_reason).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from gateway import errors
from gateway.providers import responses, sse, transport
from gateway.providers.spec import ResponseMeta
from gateway.redaction import redact
from gateway.spend.cost import cost_micros, format_usd

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from gateway.config import Deployment, GatewayConfig
    from gateway.providers.spec import (
        Dialect,
        StreamState,
        Target,
        TokenUsage,
        UpstreamEvent,
        UpstreamRequest,
    )
    from gateway.schemas.openai import ChatCompletionRequest

logger = logging.getLogger(__name__)


@functools.cache
def dialect(name: str) -> Dialect:
    """Dialects are imported on first use, never at app import."""
    return cast("Dialect", importlib.import_module(f"gateway.providers.{name}"))


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


def _headers(request_id: str, target: Target, dropped: tuple[str, ...]) -> dict[str, str]:
    headers = {"x-request-id": request_id, "x-gateway-provider": target.provider}
    if dropped:
        headers["x-gateway-dropped-params"] = ",".join(dropped)
    return headers


def _scrubbed(error: errors.GatewayError, target: Target) -> errors.GatewayError:
    error.message = redact(error.message, target.api_key)
    return error


async def complete(
    request: ChatCompletionRequest, config: GatewayConfig, request_id: str
) -> Outcome:
    deployment = config.pick(request.model)
    target = deployment.target
    speaker = dialect(target.dialect)
    upstream = speaker.build_request(request, target)
    meta = ResponseMeta(id=f"chatcmpl-{request_id}", created=int(time.time()), model=request.model)
    headers = _headers(request_id, target, upstream.dropped_params)
    if upstream.stream:
        return await _open_stream(speaker, upstream, deployment, meta, request, headers)
    raw = await transport.send(upstream, target.timeout_s)
    if raw.status >= 400:
        raise _scrubbed(speaker.map_error(raw.status, raw.body, raw.headers), target)
    completion = speaker.parse_response(raw.body, meta)
    cost = cost_micros(completion.usage, deployment)
    if cost is not None:
        headers["x-gateway-cost-usd"] = format_usd(cost)
    body = sse.dumps(completion.response)
    return Outcome(headers=headers, body=body, usage=completion.usage, cost_micros=cost)


async def _open_stream(
    speaker: Dialect,
    upstream: UpstreamRequest,
    deployment: Deployment,
    meta: ResponseMeta,
    request: ChatCompletionRequest,
    headers: dict[str, str],
) -> Outcome:
    target = deployment.target
    stack = contextlib.AsyncExitStack()
    try:
        handle = await stack.enter_async_context(transport.open_stream(upstream, target.timeout_s))
        if handle.status >= 400:
            body = await handle.body()
            raise _scrubbed(speaker.map_error(handle.status, body, handle.headers), target)
        if not handle.is_stream():
            raise errors.UpstreamError("The provider answered a stream request without a stream.")
    except BaseException:
        await stack.aclose()
        raise
    outcome = Outcome(headers=headers, close=stack.aclose)
    outcome.stream = _relay(speaker, handle, deployment, meta, request, stack, outcome)
    return outcome


async def _relay(
    speaker: Dialect,
    handle: transport.UpstreamStream,
    deployment: Deployment,
    meta: ResponseMeta,
    request: ChatCompletionRequest,
    stack: contextlib.AsyncExitStack,
    outcome: Outcome,
) -> AsyncIterator[bytes]:
    state = speaker.new_stream_state(meta)
    try:
        async with stack:
            async for batch in handle.batches():
                out, failure = _translate(speaker, state, batch)
                if out:
                    yield out
                if failure is not None:
                    raise failure
            for chunk in speaker.finish_stream(state):
                yield sse.encode(chunk)
        if state.usage is not None:
            outcome.cost_micros = cost_micros(state.usage, deployment)
    except errors.GatewayError as exc:
        error = _scrubbed(exc, deployment.target)
        logger.warning("stream failed after start: %s", error.code)
        yield sse.encode(error.body())
        return
    except Exception:
        logger.exception("stream failed after start")
        yield sse.encode(errors.InternalError("The gateway failed; retry later.").body())
        return
    finally:
        outcome.usage = state.usage  # partial on failure or disconnect
    if request.wants_usage_chunk and state.usage is not None:
        yield sse.encode(responses.usage_chunk(meta, state.usage))
    if outcome.cost_micros is not None:
        yield f": x-gateway-cost-usd={format_usd(outcome.cost_micros)}\n\n".encode()
    yield sse.DONE


def _translate(
    speaker: Dialect, state: StreamState, batch: list[UpstreamEvent]
) -> tuple[bytes, Exception | None]:
    """One network read's events as SSE bytes; a failure comes after what preceded it."""
    out: list[bytes] = []
    try:
        for event in batch:
            out.extend(sse.encode(chunk) for chunk in speaker.parse_stream_event(state, event))
    except Exception as exc:  # re-raised by the relay once `out` is sent
        return b"".join(out), exc
    return b"".join(out), None
