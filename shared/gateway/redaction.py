"""Scrub secrets from any text that may reach a client or a log."""

from __future__ import annotations

import re

_PATTERNS = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}|x-api-key[\"':= ]+[A-Za-z0-9._\-]{8,})"
)


def redact(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _PATTERNS.sub("[redacted]", text)
