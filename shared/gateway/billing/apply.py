"""Apply spend events to the table exactly once: ledger, counters and budget settlements.

Events are packed into TransactWriteItems of at most 100 actions, each item at most once
(`gateway.billing.ledger` merges the counters). A transaction is atomic and its ledger
Puts are conditional, so whatever happens to a batch (redelivery, a crash after commit,
a lost response the client retried) each event counts once:

- a ledger item that exists: the event was applied before; it is a duplicate, acked;
- a budget hold that is gone: admission healed it after the request's deadline; the
  event is re-planned as a plain charge;
- a conflict with another transaction, or throttling: the same plan again, after a
  short jittered wait;
- DynamoDB unavailable (after the client's retries): the transaction's events fail and
  SQS redelivers them; the transaction either committed whole or not at all;
- DynamoDB refuses what the transaction holds (a ValidationException, or a cancellation
  reason no attempt gets past: an item or key over its size, a malformed value): one
  event is at fault, and no retry can pass. Each of the transaction's events is then
  applied alone, so the others are charged and only the one at fault fails, as
  `UnchargeableEventError` (the spend function reports it as its message's failure, and
  after maxReceiveCount it rests in the dead-letter queue).

After the commits, budget items with a soft budget are checked for crossing
(`gateway.billing.alerts`), for duplicates too: a redelivery is how a failed alert is
retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from gateway.billing import alerts
from gateway.billing.ledger import MAX_ACTIONS, Transaction, emptied_slots, sweep, touched
from gateway.store.budgets import slot_of as budget_slot
from gateway.store.dynamo import DynamoError, DynamoUnavailableError, TransactionCanceledError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from gateway.billing.alerts import AlertSender
    from gateway.billing.ledger import Key
    from gateway.spend.events import SpendEvent
    from gateway.store.dynamo import Dynamo

logger = logging.getLogger(__name__)

ATTEMPTS = 8  # per transaction; every cancellation but a conflict teaches something
REFUSED = "ValidationException"  # DynamoDB's answer to a request it can never accept
BACKOFF_S = 0.02

Outcome = Literal["applied", "duplicate", "failed"]


class UnchargeableEventError(Exception):
    """DynamoDB refuses this event alone: no attempt, here or after a redelivery, passes."""


class EventTooLargeError(UnchargeableEventError):
    """An event that alone needs more than one transaction's actions (it never fits)."""


class NotAppliedError(Exception):
    """The transaction gave up after its attempts (conflicts, throttling)."""


@dataclass(slots=True)
class ApplyResult:
    """The fate of each request id of a batch."""

    applied: set[str] = field(default_factory=set)
    duplicates: set[str] = field(default_factory=set)  # already in the ledger
    failed: dict[str, BaseException] = field(default_factory=dict)

    def outcome(self, request_id: str) -> Outcome:
        if request_id in self.failed:
            return "failed"
        return "duplicate" if request_id in self.duplicates else "applied"

    def fail(self, request_ids: Iterable[str], error: BaseException) -> None:
        for rid in request_ids:
            self.applied.discard(rid)
            self.duplicates.discard(rid)
            self.failed[rid] = error


def pack(events: Iterable[SpendEvent]) -> list[list[SpendEvent]]:
    """Greedy transactions: add events while ledger Puts + distinct other items <= 100.

    Events are sorted so that those sharing items (same team, key, model, day) meet in
    one transaction, where their counters merge.
    """
    ordered = sorted(
        events,
        key=lambda e: (e.team_id or "", e.key_id, e.user_id or "", e.model_group, e.start_ms),
    )
    batches: list[list[SpendEvent]] = []
    current: list[SpendEvent] = []
    items: set[Key] = set()
    for event in ordered:
        mine = touched(event)
        if current and len(current) + 1 + len(items | mine) > MAX_ACTIONS:
            batches.append(current)
            current, items = [], set()
        current.append(event)
        items |= mine
    if current:
        batches.append(current)
    return batches


class Applier:
    def __init__(
        self,
        db: Dynamo,
        *,
        alerts: AlertSender | None = None,
        clock: Callable[[], float] = time.time,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.db = db
        self.alerts = alerts
        self.clock = clock
        self.attempts = attempts

    async def apply(self, events: Sequence[SpendEvent]) -> ApplyResult:
        result = ApplyResult()
        unique: dict[str, SpendEvent] = {}
        for event in events:
            unique.setdefault(event.request_id, event)
        fitting = []
        for event in unique.values():
            if len(touched(event)) + 1 > MAX_ACTIONS:
                result.fail([event.request_id], EventTooLargeError(event.request_id))
            else:
                fitting.append(event)
        for batch in pack(fitting):
            await self._commit(batch, result)
        settled = [e for e in fitting if e.request_id not in result.failed]
        await self._alert(settled, result)
        await self._sweep(settled)
        return result

    async def _commit(self, events: list[SpendEvent], result: ApplyResult) -> None:
        pending = {event.request_id: event for event in events}
        healed: set[tuple[str, Key]] = set()
        for attempt in range(self.attempts):
            txn = Transaction.of(self.db.table, pending.values(), healed)
            try:
                await self.db.call("TransactWriteItems", {"TransactItems": txn.actions()})
            except TransactionCanceledError as exc:
                verdict = txn.read(exc.reasons)
                if verdict.invalid:
                    await self._refused(list(pending.values()), verdict.invalid, exc, result)
                    return
                for rid in verdict.duplicates:
                    del pending[rid]
                result.duplicates |= verdict.duplicates
                learned = bool(verdict.duplicates) or not verdict.healed <= healed
                healed |= verdict.healed
                if not pending:
                    return
                if verdict.retry or not learned:
                    await asyncio.sleep(random.uniform(0, BACKOFF_S * 2**attempt))  # noqa: S311
            except DynamoError as exc:
                if exc.code == REFUSED:
                    await self._refused(list(pending.values()), exc.code, exc, result)
                else:  # not this batch's doing (access, a missing table): all of it fails
                    result.fail(pending, exc)
                return
            except DynamoUnavailableError as exc:
                result.fail(pending, exc)
                return
            else:
                result.applied |= set(pending)
                return
        result.fail(pending, NotAppliedError(f"gave up after {self.attempts} attempts"))

    async def _refused(
        self, events: list[SpendEvent], reason: str, error: Exception, result: ApplyResult
    ) -> None:
        """DynamoDB refused the transaction of `events` for what it holds: each is applied
        alone, so that only the one at fault fails (a poison event fails alone)."""
        if len(events) > 1:
            logger.warning(
                "spend transaction refused (%s): applying its %d events one by one",
                reason,
                len(events),
            )
            for event in events:
                await self._commit([event], result)
            return
        (event,) = events
        logger.error(
            "spend event refused by DynamoDB (%s): request %s not charged",
            reason,
            event.request_id,
            extra={"request_id": event.request_id, "key_id": event.key_id, "reason": reason},
        )
        unchargeable = UnchargeableEventError(f"{event.request_id}: {reason}")
        unchargeable.__cause__ = error
        result.fail([event.request_id], unchargeable)

    async def _sweep(self, events: list[SpendEvent]) -> None:
        """Remove the budget slots these events emptied, once their minute is over (a later
        reservation in a removed slot starts it again). Best effort: a slot left behind
        costs a few bytes until a refused reservation gives it back."""
        current = budget_slot(self.clock())
        for key, slot in sorted(emptied_slots(events, current)):
            try:
                await self.db.call("UpdateItem", sweep(key, slot))
            except (DynamoError, DynamoUnavailableError):
                continue  # not empty (a request of that minute is unsettled), or unreachable

    async def _alert(self, events: list[SpendEvent], result: ApplyResult) -> None:
        watches = alerts.watches(events)
        if not watches:
            return
        sender = self.alerts or alerts.EventBridgeAlerts()
        for watch in watches:
            if not await alerts.check(self.db, sender, watch, self.clock()):
                result.fail(watch.request_ids, alerts.AlertError("soft budget alert not sent"))
