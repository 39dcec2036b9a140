"""CPU of a request's telemetry (its record, EMF document and access fields, written),
a script, not a test:

    make bench-telemetry   # or: PYTHONPATH=shared python -m gateway.local.telemetry_bench

Writes to an in-memory stdout, so the figure is the gateway's work, not the terminal's.
Then the same with OpenTelemetry export on: the request's points added to the exporter's
aggregate (the export itself, one POST per interval for all requests, is not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import statistics
import sys
import time
from typing import Any

from gateway.http import observe
from gateway.http.auth import MASTER
from gateway.router.engine import AttemptRecord, Journey
from gateway.spend.events import SpendEvent

ROUNDS = 5


class _Account:
    """What the pipeline leaves on a served request's state."""

    requested_model = "gpt-4o-mini"
    stream = False

    def __init__(self) -> None:
        self.journey = Journey(
            attempts=[AttemptRecord("d1", "gpt-4o-mini", "openai", "gpt-4o-mini", 200, None, True)]
        )
        self.last_event = SpendEvent(
            request_id="r",
            start_ms=1,
            end_ms=2,
            model_group="gpt-4o-mini",
            provider="openai",
            model_id="d1",
            prompt_tokens=120,
            completion_tokens=300,
            spend_micros=42,
            ttft_ms=150,
        )


def measure(n: int = 5000) -> float:
    """Median milliseconds of CPU per request's telemetry over ROUNDS rounds of `n`."""
    observed = observe.Observed(None)  # type: ignore[arg-type]
    account = _Account()
    rounds = []
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(ROUNDS):
            started = time.process_time()
            for _ in range(n):
                state: dict[str, Any] = {
                    "request_id": "r",
                    "account": account,
                    "caller": MASTER,
                    "cache_lookup": "miss",
                }
                scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions"}
                observed._write({**scope, "state": state}, 200, time.perf_counter())
            rounds.append((time.process_time() - started) / n * 1000)
    return statistics.median(rounds)


async def _with_otel() -> float:
    os.environ["GATEWAY_OTEL_ENDPOINT"] = "http://127.0.0.1:9"  # never reached: no export
    os.environ["GATEWAY_OTEL_INTERVAL_S"] = "3600"
    return measure()


def main() -> None:
    sys.stdout.write(f"telemetry_cpu_ms_per_request: {measure():.4f}\n")
    with_otel = asyncio.run(_with_otel())
    sys.stdout.write(f"telemetry_with_otel_cpu_ms_per_request: {with_otel:.4f}\n")


if __name__ == "__main__":
    main()
