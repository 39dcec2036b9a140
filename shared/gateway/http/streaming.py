"""SSE responses that stay alive through long silences.

API Gateway ends a streamed response after 5 minutes without a byte (30 s on
edge-optimized endpoints), and a reasoning model may think longer than that
before its first token. While the upstream is silent, a comment line
(`: keep-alive`), which SSE clients ignore, goes out every `interval` seconds.
One timer task per stream; chunks pay only a timestamp and an uncontended lock.

The end-of-request work (`on_close`: releasing the upstream and the rate-limit slot,
handing the spend event to the outbox) runs before the response's last message. Under
Lambda Web Adapter the invocation ends with the response, and a sandbox may be frozen
or never thawed again afterwards, so the release (a DynamoDB write, for keys with a
parallel or TPM limit) is not left for later; the spend event's send is, by the outbox
(gateway/billing/outbox.py), which is built for that. The client already has every
byte by then; only the end of the body waits.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import Response, StreamingResponse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.types import Message, Receive, Scope, Send

KEEP_ALIVE = b": keep-alive\n\n"


class KeepAliveStreamingResponse(StreamingResponse):
    def __init__(
        self,
        content: Any,
        *,
        interval: float,
        on_close: Callable[[], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(content, **kwargs)
        self.interval = interval
        self.on_close = on_close

    async def stream_response(self, send: Send) -> None:
        try:
            await self._stream(send)
        finally:
            if self.on_close is not None:
                # Shielded: a client that left cancels the stream, but the upstream must
                # still be released, the rate-limit slot given back and the spend sent.
                with anyio.CancelScope(shield=True):
                    await self.on_close()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        lock = asyncio.Lock()  # ASGI send must not run twice at once
        last_sent = time.monotonic()

        async def keep_alive() -> None:
            nonlocal last_sent
            while True:
                await anyio.sleep(max(0.0, last_sent + self.interval - time.monotonic()))
                if time.monotonic() - last_sent >= self.interval:
                    async with lock:
                        await send(
                            {"type": "http.response.body", "body": KEEP_ALIVE, "more_body": True}
                        )
                    last_sent = time.monotonic()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(keep_alive)
            async for chunk in self.body_iterator:
                async with lock:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                last_sent = time.monotonic()
            tasks.cancel_scope.cancel()


class Finishing(Response):
    """Another response, with `after` run (once, shielded) before its last message: the
    body goes out first, then `after`, then the end of the response. Also runs `after`
    if the response fails or the client leaves."""

    def __init__(self, inner: Response, after: Callable[[], Awaitable[None]]) -> None:
        self.inner = inner
        self.after = after
        self.status_code = inner.status_code
        self.background = None

    @property
    def headers(self) -> Any:
        return self.inner.headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        done = False

        async def finish() -> None:
            nonlocal done
            if not done:
                done = True
                with anyio.CancelScope(shield=True):
                    await self.after()

        async def sending(message: Message) -> None:
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if not last:
                await send(message)
                return
            if message.get("body"):
                await send(
                    {"type": "http.response.body", "body": message["body"], "more_body": True}
                )
            await finish()
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        try:
            await self.inner(scope, receive, sending)
        finally:
            await finish()
