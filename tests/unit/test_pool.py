"""The keep-alive connection pool under DynamoDB's wire habits and a server's failures."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from gateway.store.pool import Pool, PoolError

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.anyio


class Server:
    """A scripted HTTP server on 127.0.0.1 that counts connections and records requests."""

    def __init__(self, respond: Callable[[int], bytes | None]) -> None:
        self.respond = respond  # request number -> raw response (None: say nothing)
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                answer = self.respond(len(self.requests))
                if answer is None:
                    await asyncio.sleep(10)
                    return
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower() or answer.startswith(b"HTTP/1.0"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def pool(url: str, timeout: float = 2.0) -> Pool:
    return Pool(url, timeout=timeout, connect_timeout=1.0)


async def test_connections_are_kept_and_requests_well_formed() -> None:
    server = Server(lambda n: ok(b'{"n": %d}' % n))
    async with server as url:
        client = pool(url)
        answers = [await client.post({"x-amz-target": "T"}, b'{"a":1}') for _ in range(3)]
        client.close()
    assert answers == [(200, b'{"n": 1}'), (200, b'{"n": 2}'), (200, b'{"n": 3}')]
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST / HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in first
    assert b"\r\nx-amz-target: T\r\n" in first
    assert first.endswith(b'content-length: 7\r\n\r\n{"a":1}')


async def test_chunked_bodies_and_bodies_until_close() -> None:
    chunked = (
        b"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n"
    )
    until_close = b"HTTP/1.0 200 OK\r\n\r\nall of it"
    answers = {1: chunked, 2: until_close}
    server = Server(lambda n: answers.get(n, ok()))
    async with server as url:
        client = pool(url)
        assert await client.post({}, b"") == (400, b"hello world")
        assert await client.post({}, b"") == (200, b"all of it")
        assert await client.post({}, b"") == (200, b'{"ok": true}')
        client.close()
    assert server.connections == 2  # the HTTP/1.0 answer ended its connection


async def test_connection_close_is_honoured() -> None:
    server = Server(lambda n: ok(extra=b"Connection: close\r\n"))
    async with server as url:
        client = pool(url)
        for _ in range(3):
            assert (await client.post({}, b"{}"))[0] == 200
        client.close()
    assert server.connections == 3


async def test_a_kept_connection_the_server_dropped_is_replaced_once() -> None:
    async def drop_after_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(head.split(b"content-length: ")[1].split(b"\r\n")[0]))
        writer.write(ok())  # says nothing of closing, then closes (an idle timeout)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(drop_after_one, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    client = pool(url)
    assert (await client.post({}, b"{}"))[0] == 200
    await asyncio.sleep(0.05)
    assert (await client.post({}, b"{}"))[0] == 200
    client.close()
    server.close()


async def test_silence_is_a_timeout() -> None:
    async with Server(lambda n: None) as url:
        client = pool(url, timeout=0.2)
        with pytest.raises(PoolError):
            await client.post({}, b"{}")


async def test_refused_and_garbage_answers_are_pool_errors() -> None:
    async with Server(lambda n: b"SSH-2.0-OpenSSH\r\n\r\n") as url:
        with pytest.raises(PoolError):
            await pool(url).post({}, b"{}")
    with pytest.raises(PoolError):
        await pool("http://127.0.0.1:9/").post({}, b"{}")


async def test_a_cancelled_call_does_not_leave_its_connection_for_the_next() -> None:
    answers = {1: None}
    server = Server(lambda n: answers.get(n, ok()))
    async with server as url:
        client = pool(url)
        task = asyncio.create_task(client.post({}, b"{}"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await client.post({}, b"{}") == (200, b'{"ok": true}')
        client.close()
    assert server.connections == 2


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Pool("ftp://x/", timeout=1, connect_timeout=1)
