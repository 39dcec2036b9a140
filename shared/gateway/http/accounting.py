"""One spend event per admitted request, however it ends.

The chat route opens an `Account` once the request is admitted, and sends its event
exactly once: when the response has ended (complete, cut by the client, failed
midway), when the cache answered (cost 0), or when the request failed before any
answer (cost 0; the budget holds are given back by its settlement). Requests refused
before admission (bad input, 401/403/429) reserved nothing and cost nothing.

The caller's strings the event carries (`user`, `model`, `metadata.tags`) were bounded
at the door (gateway/schemas/bounds.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.billing.emit import SpendEmitter
from gateway.billing.outbox import SpendOutbox
from gateway.config import settings
from gateway.errors import ClientClosedError
from gateway.http.dependencies import per_instance
from gateway.router.engine import Journey
from gateway.spend.events import SpendEvent

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.completions import Outcome
    from gateway.errors import GatewayError
    from gateway.http.auth import Caller
    from gateway.store.dynamo import Dynamo
    from gateway.store.limits import Admission


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass
class Account:
    request_id: str
    started: float  # epoch seconds
    caller: Caller
    requested_model: str
    stream: bool
    end_user: str | None = None
    tags: tuple[str, ...] = ()
    admission: Admission | None = None
    journey: Journey = field(default_factory=Journey)
    answered: float | None = None  # when the first bytes (or the whole answer) were ready
    failure: GatewayError | None = None
    sent: bool = False
    last_event: SpendEvent | None = None  # what close() sent, for the request's telemetry

    def event(self, outcome: Outcome | None, *, cache_hit: bool = False) -> SpendEvent:
        now = time.time()
        identity = self.caller.identity
        key = identity.key if identity is not None else None
        last = self.journey.attempts[-1] if self.journey.attempts else None
        usage = outcome.usage if outcome is not None else None
        failure = self.failure
        if failure is None and outcome is not None and not outcome.complete:
            failure = ClientClosedError("The client left before the stream ended.")
        status, status_code, error_code = "success", 200, None
        if failure is not None:
            status, status_code, error_code = "failure", failure.status, failure.code
        return SpendEvent(
            request_id=self.request_id,
            start_ms=_ms(self.started),
            end_ms=_ms(now),
            status=status,
            status_code=status_code,
            error_code=error_code,
            api_key=key.token if key is not None else "",
            key_id=(key.key_id or key.token) if key is not None else "",
            key_alias=key.key_alias if key is not None else None,
            key_name=key.key_name if key is not None else None,
            team_id=key.team_id if key is not None else None,
            user_id=key.user_id if key is not None else None,
            end_user=self.end_user,
            model_group=last.model_group if last is not None else self.requested_model,
            requested_model=self.requested_model,
            model=last.model if last is not None else "",
            model_id=last.model_id if last is not None else None,
            provider=last.provider if last is not None else None,
            prompt_tokens=usage.input_tokens if usage else 0,
            completion_tokens=usage.output_tokens if usage else 0,
            cached_tokens=usage.cache_read_tokens if usage else 0,
            cache_write_tokens=usage.cache_write_tokens if usage else 0,
            reasoning_tokens=usage.reasoning_tokens if usage else 0,
            spend_micros=(outcome.cost_micros or 0) if outcome is not None else 0,
            ttft_ms=_ms(self.answered - self.started) if self.answered is not None else None,
            stream=self.stream,
            cache_hit=cache_hit,
            usage_estimated=outcome.usage_estimated if outcome is not None else False,
            attempts=len(self.journey.attempts),
            billed_attempts=sum(1 for a in self.journey.attempts if a.billed),
            tags=self.tags,
            holds=self.admission.holds if self.admission is not None else (),
        )

    async def close(
        self, request: Request, outcome: Outcome | None, *, cache_hit: bool = False
    ) -> None:
        """Hand the request's spend event to the instance's outbox (once; never raises, never
        waits for AWS: gateway/billing/outbox.py delivers it after the response)."""
        if self.sent:
            return
        self.sent = True
        outbox = per_instance(request, "spend", _outbox)
        event = self.last_event = self.event(outcome, cache_hit=cache_hit)
        if outbox is not None:
            outbox.put(event)


def _outbox(db: Dynamo) -> SpendOutbox:
    return SpendOutbox(SpendEmitter(db, settings().spend_queue_url))
