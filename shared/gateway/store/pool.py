"""Keep-alive HTTP/1.1 connections to one AWS endpoint, for small JSON requests.

The request path makes one or two DynamoDB calls per request. Measured here against
a local endpoint that keeps connections open, a call costs about 1 ms of CPU through
httpx, 0.75 ms through boto3 (plus a worker-thread hop), and 0.22 ms written straight
onto an asyncio stream (`make bench` reports the last).
So this module does only what those calls need: POST a body, read a status and a
body (Content-Length, chunked, or until close), keep the connection for the next
call, over TLS or, locally, plain TCP. Nothing else of HTTP is here: no redirects,
no proxies, no compression, no cookies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from asyncio import StreamReader, StreamWriter

MAX_IDLE = 16
MAX_OPEN = 64  # calls in flight at once; more wait their turn (a burst must not flood accept)
HEAD_LIMIT = 64 * 1024


class PoolError(OSError):
    """The exchange failed on the wire: nothing usable came back."""


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


class Pool:
    """Connections to the host of `url`; a connection serves one call at a time."""

    def __init__(self, url: str, *, timeout: float, connect_timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.authority = parts.netloc
        self.path = parts.path or "/"
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._idle: list[tuple[StreamReader, StreamWriter]] = []
        self._slots = asyncio.Semaphore(MAX_OPEN)

    async def post(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """(status, body) of one POST. A kept connection the server had already closed
        is replaced once, transparently; any other failure is a PoolError."""
        async with self._slots:
            return await self._post(headers, body)

    async def _post(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        for reused in (True, False):
            connection = self._idle.pop() if reused and self._idle else None
            if reused and connection is None:
                continue
            try:
                if connection is None:
                    connection = await self._connect()
                async with asyncio.timeout(self.timeout):
                    status, data, keep = await self._exchange(*connection, headers, body)
            except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as exc:
                if connection is not None:
                    connection[1].close()
                if reused and isinstance(exc, (EOFError, ConnectionError)):
                    continue  # a stale kept connection: try a fresh one
                raise PoolError(f"{type(exc).__name__} talking to {self.host}") from None
            except BaseException:  # cancelled mid-exchange: the connection is unusable
                if connection is not None:
                    connection[1].close()
                raise
            if keep and len(self._idle) < MAX_IDLE:
                self._idle.append(connection)
            else:
                connection[1].close()
            return status, data
        raise AssertionError("unreachable")

    async def _connect(self) -> tuple[StreamReader, StreamWriter]:
        async with asyncio.timeout(self.connect_timeout):
            return await asyncio.open_connection(
                self.host,
                self.port,
                ssl=_tls() if self.tls else None,
                server_hostname=self.host if self.tls else None,
                limit=HEAD_LIMIT,
            )

    async def _exchange(
        self, reader: StreamReader, writer: StreamWriter, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, bool]:
        lines = [f"POST {self.path} HTTP/1.1", f"host: {self.authority}"]
        lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
        lines.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        version, status, _ = (head[0] + "  ").split(" ", 2)
        fields: dict[str, str] = {}
        for line in head[1:]:
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        keep = version == "HTTP/1.1" and fields.get("connection", "").lower() != "close"
        if "chunked" in fields.get("transfer-encoding", "").lower():
            data = await _chunked(reader)
        elif "content-length" in fields:
            data = await reader.readexactly(int(fields["content-length"]))
        else:
            data, keep = await reader.read(), False
        return int(status), data, keep

    def close(self) -> None:
        while self._idle:
            with contextlib.suppress(RuntimeError):  # its event loop may be gone already
                self._idle.pop()[1].close()


async def _chunked(reader: StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, then the end
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
