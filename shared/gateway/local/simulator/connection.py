"""Faults below HTTP: a stall that sends nothing, and a reset that drops the connection.

ASGI has no message for "drop the connection without answering", so ``reset`` reaches the
server's transport: uvicorn's ``send`` is a bound method of its request-response cycle, which
holds the asyncio transport (checked with uvicorn 0.54, both its h11 and httptools protocols;
an uvicorn internal, so ``tests/unit/test_simulator_faults.py`` pins it). ``SimulatorApp``
puts that transport in the scope under ``TRANSPORT_KEY`` before any middleware wraps
``send``. ``ResetResponse`` sets ``SO_LINGER`` to zero and aborts it, so the kernel sends a
TCP RST: the client reads ``ECONNRESET`` (httpx: ``ReadError``) and no byte of a response.
Should the socket refuse the option, the abort still closes with a FIN (httpx:
``RemoteProtocolError``). Under a server without that transport (httpx's ``ASGITransport``)
the app raises ``ConnectionResetError`` instead, which the in-process client re-raises.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import Response

if TYPE_CHECKING:
    import asyncio

    from starlette.types import Receive, Scope, Send

TRANSPORT_KEY = "gateway.simulator.transport"
_DISCONNECT_WAIT_SECONDS = 5.0
_LINGER_OFF_NOW = struct.pack("ii", 1, 0)  # l_onoff=1, l_linger=0: close() sends RST


def server_transport(send: Send) -> asyncio.Transport | None:
    """The transport behind the server's own ``send``, if the server exposes one."""
    transport: Any = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not callable(getattr(transport, "abort", None)):
        return None
    result: asyncio.Transport = transport
    return result


class StallResponse(Response):
    """Send nothing until the client leaves or ``seconds`` pass, then a bare 504."""

    def __init__(self, seconds: float) -> None:
        super().__init__(b"", 504, media_type="text/plain")
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with anyio.move_on_after(self.seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        await super().__call__(scope, receive, send)


class ResetResponse(Response):
    """No response at all: the TCP connection is reset (RST) where the status line would be."""

    def __init__(self) -> None:
        super().__init__(b"", 500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        del send
        transport: asyncio.Transport | None = scope.get(TRANSPORT_KEY)
        if transport is None:
            raise ConnectionResetError("simulated connection reset (no server transport)")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_OFF_NOW)
        transport.abort()
        # Return only once the server has seen the connection go: returning earlier makes
        # uvicorn think the app forgot to answer, and it would log and try to send a 500.
        with anyio.move_on_after(_DISCONNECT_WAIT_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass
