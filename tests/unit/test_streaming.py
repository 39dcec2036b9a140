"""KeepAliveStreamingResponse: keep-alive comments, and the upstream released in every case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest

from gateway.http.streaming import KEEP_ALIVE, KeepAliveStreamingResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def run(response: KeepAliveStreamingResponse, send: Any) -> None:
    async def main() -> None:
        await response.stream_response(send)

    anyio.run(main)


def test_the_upstream_is_released_when_the_client_left_before_the_first_byte() -> None:
    started = closed = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal started
        started = True
        yield b"data: x\n\n"

    async def close() -> None:
        nonlocal closed
        closed = True

    async def gone(_message: dict[str, Any]) -> None:
        raise OSError("client went away")

    response = KeepAliveStreamingResponse(body(), interval=10, on_close=close)
    with pytest.raises(OSError, match="went away"):
        run(response, gone)
    assert not started
    assert closed


def test_silence_is_filled_with_comments_and_chunks_pass_in_order() -> None:
    sent: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        await anyio.sleep(0.35)
        yield b"data: 2\n\n"

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])

    closed: list[bool] = []

    async def close() -> None:
        closed.append(True)

    run(KeepAliveStreamingResponse(body(), interval=0.1, on_close=close), send)
    assert sent[0] == b"data: 1\n\n"
    assert sent[-2:] == [b"data: 2\n\n", b""]
    assert 2 <= sent.count(KEEP_ALIVE) <= 4
    assert closed == [True]
