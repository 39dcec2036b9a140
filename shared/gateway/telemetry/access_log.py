"""The access fields of a request's line: its EMF document carries them as properties,
so one JSON line per request is both its metrics and its access log (CloudWatch Logs
Insights queries the fields; CloudWatch extracts the metrics).

Fields: request id, method, path, status, error type and code, key alias and a prefix of
the key's SHA-256 (never the key), team, user, the model asked for, the group, provider
and deployment that served, stream, tokens, cost, latency and time to first token, the
cache's lookup, attempts, upstream failures and the fallback group. Never the prompt or
the answer: GATEWAY_LOG_PROMPTS (off by default) adds the request body, bounded to
PROMPT_LOG_BYTES and redacted, for debugging a deployment that allows it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

from gateway.redaction import redact
from gateway.telemetry.record import RequestRecord

PROMPT_LOG_BYTES = 4096
FIELDS = tuple(field.name for field in dataclasses.fields(RequestRecord))


@functools.cache
def prompts_logged() -> bool:
    return os.environ.get("GATEWAY_LOG_PROMPTS", "").lower() in ("1", "true", "yes")


def fields(record: RequestRecord, body: bytes | None = None) -> dict[str, Any]:
    """The request's access fields (those that are set)."""
    out: dict[str, Any] = {
        name: value for name in FIELDS if (value := getattr(record, name)) is not None
    }
    out["cost_usd"] = record.cost_micros / 1_000_000
    if body is not None and prompts_logged():
        out["request_body"] = redact(body[:PROMPT_LOG_BYTES].decode("utf-8", "replace"))
    return out
