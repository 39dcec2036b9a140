"""Logs are JSON and never carry anything that looks like a key, tracebacks included."""

from __future__ import annotations

import json
import logging
import sys

from gateway.http.app import configure_logging

KEY = "sk-canary-0123456789abcdef"


def test_log_lines_are_json_and_redacted() -> None:
    saved = logging.getLogger().handlers[:]
    try:
        configure_logging()
        formatter = logging.getLogger().handlers[0].formatter
        assert formatter is not None
        try:
            raise RuntimeError(f"upstream said Bearer {KEY}")
        except RuntimeError:
            record = logging.LogRecord(
                "gateway", logging.ERROR, __file__, 1, "failed with %s", (KEY,), sys.exc_info()
            )
        line = formatter.format(record)
    finally:
        logging.getLogger().handlers[:] = saved
    assert KEY not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed with [redacted]"
    assert "RuntimeError" in parsed["exception"]
    assert logging.getLogger("httpx").level == logging.WARNING
