"""The one module that talks to providers: a shared httpx client, SigV4 for Bedrock,
minted bearer tokens for Vertex AI and Entra ID (oauth.py), and stream framing (SSE,
or AWS event-stream through botocore's decoder).

Redirects are never followed and proxy variables in the environment are ignored,
so provider credentials only ever go to the configured base URL.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from gateway import aws, errors
from gateway.config import settings
from gateway.providers import oauth
from gateway.providers.spec import UpstreamEvent
from gateway.providers.sse import SSEDecoder, dumps

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from gateway.providers.spec import Framing, UpstreamRequest


STREAM_CONTENT_TYPES = {
    "sse": "text/event-stream",
    "eventstream": "application/vnd.amazon.eventstream",
}


@dataclass(slots=True)
class RawResponse:
    status: int
    headers: httpx.Headers
    body: bytes


@functools.cache
def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        timeout=httpx.Timeout(600.0, connect=settings().connect_timeout_s),
    )


async def close() -> None:
    if client.cache_info().currsize:
        await client().aclose()
        client.cache_clear()


async def _build(request: UpstreamRequest, timeout_s: float) -> httpx.Request:
    body = dumps(request.body)
    headers = dict(request.headers)
    if request.oauth is not None:
        headers["authorization"] = f"Bearer {await oauth.bearer(request.oauth, client())}"
    if request.sigv4_region:
        headers = aws.sigv4_headers(request.url, body, headers, "bedrock", request.sigv4_region)
    timeout = httpx.Timeout(timeout_s, connect=settings().connect_timeout_s)
    return client().build_request(
        "POST",
        request.url,
        content=body,
        headers=headers,
        extensions={"timeout": timeout.as_dict()},
    )


def _transport_error(exc: Exception) -> errors.GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        error: errors.GatewayError = errors.UpstreamTimeoutError(
            "The provider did not answer in time."
        )
        # Once the request was sent, the provider may finish (and bill) it regardless.
        error.billed = isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout))
        return error
    return errors.UpstreamError("The gateway could not reach the provider.")


async def send(request: UpstreamRequest, timeout_s: float) -> RawResponse:
    try:
        response = await client().send(await _build(request, timeout_s))
    except httpx.HTTPError as exc:
        raise _transport_error(exc) from None
    return RawResponse(response.status_code, response.headers, response.content)


@dataclass(slots=True)
class UpstreamStream:
    status: int
    headers: httpx.Headers
    response: httpx.Response
    framing: Framing

    def is_stream(self) -> bool:
        """Whether the content type is the framing's (an HTML error page with a 200 is not)."""
        kind = str(self.headers.get("content-type", "")).split(";")[0].strip().lower()
        return kind == STREAM_CONTENT_TYPES[self.framing]

    async def body(self) -> bytes:
        try:
            return await self.response.aread()
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from None

    async def batches(self) -> AsyncIterator[list[UpstreamEvent]]:
        """The events of each network read, together: the relay writes them in one send."""
        feed = SSEDecoder().feed if self.framing == "sse" else EventStreamDecoder().feed
        try:
            async for data in self.response.aiter_raw():
                batch = feed(data)
                if batch:
                    yield batch
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from None


@contextlib.asynccontextmanager
async def open_stream(request: UpstreamRequest, timeout_s: float) -> AsyncIterator[UpstreamStream]:
    try:
        response = await client().send(await _build(request, timeout_s), stream=True)
    except httpx.HTTPError as exc:
        raise _transport_error(exc) from None
    try:
        yield UpstreamStream(response.status_code, response.headers, response, request.framing)
    finally:
        await response.aclose()


class EventStreamDecoder:
    """AWS event-stream framing (Bedrock's ConverseStream), decoded by botocore."""

    def __init__(self) -> None:
        from botocore.eventstream import EventStreamBuffer

        self._buffer = EventStreamBuffer()

    def feed(self, data: bytes) -> list[UpstreamEvent]:
        from botocore.eventstream import ParserError

        self._buffer.add_data(data)
        try:
            return [_event(message.headers, message.payload) for message in self._buffer]
        except ParserError:
            raise errors.UpstreamError("The provider sent a corrupt event stream.") from None


def _event(headers: Any, payload: bytes) -> UpstreamEvent:
    kind = headers.get(":message-type", "event")
    name = headers.get(":exception-type") or headers.get(":event-type") or "error"
    return UpstreamEvent(
        name=str(name), data=payload.decode("utf-8", "replace"), is_exception=kind != "event"
    )
