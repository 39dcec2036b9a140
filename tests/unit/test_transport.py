"""Stream framing in the transport: AWS event stream decoding and its corruption."""

from __future__ import annotations

import json

import pytest

from gateway.errors import UpstreamError
from gateway.local.simulator.eventstream import encode_event
from gateway.providers.transport import EventStreamDecoder


def test_event_stream_frames_split_anywhere_decode_the_same() -> None:
    frames = encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}})
    frames += encode_event("messageStop", {"stopReason": "end_turn"})
    decoder = EventStreamDecoder()
    events = [event for i in range(len(frames)) for event in decoder.feed(frames[i : i + 1])]
    assert [e.name for e in events] == ["contentBlockDelta", "messageStop"]
    assert json.loads(events[0].data)["delta"] == {"text": "Hi"}
    assert not any(e.is_exception for e in events)


def test_a_corrupt_frame_is_an_upstream_error() -> None:
    frame = bytearray(encode_event("messageStop", {"stopReason": "end_turn"}))
    frame[-1] ^= 0xFF  # break the message CRC
    with pytest.raises(UpstreamError):
        EventStreamDecoder().feed(bytes(frame))
