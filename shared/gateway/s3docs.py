"""Gzip JSON documents in S3 (the response cache, stored responses): the checks both
stores make of an object read back before trusting it. A failed check raises
CorruptDocumentError, which each store treats as "never serve this"."""

from __future__ import annotations

import math
import zlib


class CorruptDocumentError(Exception):
    """An object that is not what its store writes: never served."""


def number(value: object) -> float:
    """A time from an object's metadata or body."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CorruptDocumentError("a time is not a number")
    try:
        result = float(value)
    except ValueError:
        raise CorruptDocumentError("a time is not a number") from None
    if not math.isfinite(result):
        raise CorruptDocumentError("a time is not finite")
    return result


def gunzip(data: bytes, limit: int) -> bytes:
    """Gzip framing only, inflated to at most `limit` bytes (a gzip bomb is corrupt)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(data, limit)
    except zlib.error:
        raise CorruptDocumentError("not gzip") from None
    if inflater.unconsumed_tail:
        raise CorruptDocumentError("inflates past the size limit")
    if not inflater.eof or inflater.unused_data:
        raise CorruptDocumentError("truncated or trailing bytes")
    return raw
