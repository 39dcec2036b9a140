"""Server-sent events: an incremental decoder for upstream streams, an encoder for ours.

Decoding follows the WHATWG event-stream rules that the vendors use: `event:`
and `data:` fields, multi-line data joined with newlines, a blank line ends an
event, comment lines (starting with ':') are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from gateway.providers.spec import UpstreamEvent

if TYPE_CHECKING:
    from collections.abc import Mapping


class SSEDecoder:
    """Feed bytes as they arrive; get complete events back."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[UpstreamEvent]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        events: list[UpstreamEvent] = []
        for raw in lines:
            event = self._line(raw.rstrip(b"\r").decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[UpstreamEvent]:
        """End of input: an event not yet ended by a blank line is incomplete, so dropped."""
        self._buffer = b""
        self._event, self._data = None, []
        return []

    def _line(self, line: str) -> UpstreamEvent | None:
        if not line:
            if not self._data:
                self._event = None
                return None
            event = UpstreamEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = None, []
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None


def encode(payload: Mapping[str, object] | list[object]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def encode_event(name: str, payload: Mapping[str, object]) -> bytes:
    """A named event (`event:` then `data:`), as Anthropic's streams are written."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def dumps(payload: object) -> bytes:
    """Compact UTF-8 JSON, for bodies."""
    return orjson.dumps(payload)


DONE = b"data: [DONE]\n\n"
