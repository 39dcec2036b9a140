"""The ASGI middleware that writes each request's telemetry after its last byte.

It wraps the inference app: notes the start, the status the response starts with, and,
once the message that ends the response has been handed to the server (so the client
has its last byte and does not wait for this), assembles the request's record from what
the request path left on its state (gateway/telemetry/record.py) and prints its one
line: the EMF document that is also its access log. It costs about 0.1 ms of CPU, all
of it after the response. A request whose response never ended (the client left, and the
server cancelled it) is still recorded, as 499. With GATEWAY_OTEL_ENDPOINT set, the
record's GenAI metrics also go to the app's OpenTelemetry exporter
(gateway/telemetry/otel.py, imported only then).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from gateway.telemetry import access_log, metrics
from gateway.telemetry.record import from_state

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from gateway.telemetry.otel import Exporter

UNOBSERVED = frozenset({"/health"})
CLIENT_CLOSED = 499
FAILED = 500


class Observed:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.otel: Exporter | None = None
        if os.environ.get("GATEWAY_OTEL_ENDPOINT"):
            from gateway.telemetry.otel import Exporter  # no import cost when off

            self.otel = Exporter.from_env()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNOBSERVED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        done = False

        async def observed(message: Message) -> None:
            nonlocal status, done
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done = True
                self._write(scope, status, started)

        try:
            await self.app(scope, receive, observed)
        except Exception:  # the outer error middleware answers it: a 500
            if not done:
                self._write(scope, FAILED, started)
            raise
        finally:
            if not done:  # the client left before the response ended
                self._write(scope, CLIENT_CLOSED, started)

    def _write(self, scope: Scope, status: int, started: float) -> None:
        state: dict[str, Any] = scope.setdefault("state", {})
        if state.get("written"):
            return
        state["written"] = True
        latency_ms = (time.perf_counter() - started) * 1000
        record = from_state(state, scope["method"], scope["path"], status, latency_ms)
        metrics.emit(record, access_log.fields(record, state.get("body")))
        if self.otel is not None:
            self.otel.record(record)
