"""AWS event stream encoding (``application/vnd.amazon.eventstream``).

A message is::

    prelude:  total length (u32 BE) | headers length (u32 BE) | CRC32 of those 8 bytes
    headers:  name length (u8) | name | value type (u8, 7 = string) | value length (u16 BE) | value
    payload
    message CRC32 (u32 BE) over everything before it

Only string headers are written, which is all Bedrock's streams use.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

_STRING = 7
_PRELUDE = 12
_CRC = 4


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack("!B", len(raw_name)) + raw_name
        out += struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    raw_headers = encode_headers(headers)
    total = _PRELUDE + len(raw_headers) + len(payload) + _CRC
    prelude = struct.pack("!II", total, len(raw_headers))
    message = prelude + struct.pack("!I", _crc(prelude)) + raw_headers + payload
    return message + struct.pack("!I", _crc(message))


def encode_event(event_type: str, body: object, *, raw: bytes | None = None) -> bytes:
    """An ``event`` message; ``raw`` replaces the JSON payload (for broken-payload faults)."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    payload = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
    return encode_message(headers, payload)


def encode_exception(exception_type: str, body: object) -> bytes:
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps(body, separators=(",", ":")).encode())
