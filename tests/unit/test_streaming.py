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


# ---- Finishing: end-of-request work after the body, before the response ends ----------------


def finishing_log(inner: Any, fail_send: bool = False) -> list[str]:
    from gateway.http.streaming import Finishing

    log: list[str] = []

    async def after() -> None:
        log.append("after")

    async def send(message: dict[str, Any]) -> None:
        if fail_send and message.get("body"):
            raise OSError("client went away")
        log.append(f"{message['type']}:{message.get('body', b'')!r}:{message.get('more_body')}")

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def main() -> None:
        await Finishing(inner, after)({"type": "http"}, receive, send)

    if fail_send:
        with pytest.raises(OSError, match="went away"):
            anyio.run(main)
    else:
        anyio.run(main)
    return log


def test_the_body_goes_out_before_the_work_and_the_end_after_it() -> None:
    from starlette.responses import Response

    log = finishing_log(Response(b'{"ok":1}', media_type="application/json"))
    assert log == [
        "http.response.start:b'':None",
        "http.response.body:b'{\"ok\":1}':True",
        "after",
        "http.response.body:b'':False",
    ]


def test_a_stream_runs_the_work_once_after_its_last_chunk() -> None:
    from starlette.responses import StreamingResponse

    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    log = finishing_log(StreamingResponse(chunks()))
    assert log[-3:] == ["http.response.body:b'b':True", "after", "http.response.body:b'':False"]
    assert log.count("after") == 1


def test_the_work_runs_when_the_client_left() -> None:
    from starlette.responses import Response

    assert finishing_log(Response(b"x"), fail_send=True) == [
        "http.response.start:b'':None",
        "after",
    ]
