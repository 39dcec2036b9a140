"""Delivering each request's spend event without ever failing the request.

1. SQS (GATEWAY_SPEND_QUEUE_URL): the spend function applies it in batches.
2. If the send fails (SQS unreachable, throttled past retries), the event is applied
   directly to DynamoDB by the same exactly-once code the spend function runs
   (gateway/billing/apply.py: ledger item and aggregates in one transaction), so an SQS
   outage loses nothing and settles budgets at once.
3. If DynamoDB fails too, the event stays in this sandbox's memory (up to MAX_PENDING)
   and is retried, oldest first, after later requests' events; an error is logged with
   the request id. Only a sandbox that dies while both services are down loses events.

An event that can never be delivered is not kept: one no JSON encoder takes, or one
DynamoDB refuses (`UnchargeableEventError`: an item or key over its size limit) after
SQS refused it too. Kept, it would be retried after every later event, forever; it is
logged as an error with its request id, key and cost instead, and dropped. (The event's
own bounds, gateway/spend/events.py, make one impossible but for a bug.) All of this
runs in the outbox's task (gateway/billing/outbox.py), after the responses.

Delivery is at least once from here on; the ledger makes it exactly once.
"""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING, Literal

from gateway.billing.apply import Applier, UnchargeableEventError
from gateway.billing.queue import QueueUnavailableError, SpendQueue
from gateway.store.dynamo import DynamoError, DynamoUnavailableError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.spend.events import SpendEvent
    from gateway.store.dynamo import Dynamo

logger = logging.getLogger(__name__)

MAX_PENDING = 10_000
FLUSH_PER_EVENT = 10  # pending events retried after each delivered one (bounded work)

# What became of one attempt: delivered (to SQS, or applied), to be kept for a retry, or
# dropped because no retry could ever deliver it.
Fate = Literal["delivered", "held", "dropped"]


class SpendEmitter:
    """One per app instance (its pending events are the sandbox's own)."""

    def __init__(self, db: Dynamo, queue_url: str | None) -> None:
        self.db = db
        self.queue = SpendQueue(queue_url) if queue_url else None
        self.pending: collections.deque[SpendEvent] = collections.deque()

    async def emit(self, event: SpendEvent) -> None:
        """Deliver the event (never raises); then retry a few held back earlier."""
        fate = await self._deliver(event)
        if fate == "held":
            self.hold(event)
        if fate != "delivered":
            return
        for _ in range(min(FLUSH_PER_EVENT, len(self.pending))):
            held = self.pending.popleft()
            if await self._deliver(held) == "held":
                self.pending.appendleft(held)
                return

    async def emit_many(self, events: Sequence[SpendEvent]) -> None:
        """Deliver several events (a backlog): one SendMessageBatch, then each event SQS
        did not take as `emit` delivers one. Never raises."""
        unsent = list(events)
        if self.queue is not None and len(unsent) > 1:
            try:
                refused = await self.queue.send_batch([(e.dumps(), e.request_id) for e in unsent])
                unsent = [event for index, event in enumerate(unsent) if index in refused]
            except (QueueUnavailableError, ValueError, TypeError, KeyError) as exc:
                logger.warning("spend batch not sent (%s): sending one by one", exc)
        for event in unsent:
            await self.emit(event)

    async def _deliver(self, event: SpendEvent) -> Fate:
        try:
            body = event.dumps()
        except TypeError:  # orjson's JSONEncodeError (an integer past 64 bits): a bug
            return _dropped(event, "not serializable")
        if self.queue is not None:
            try:
                await self.queue.send(body, event.request_id)
                return "delivered"
            except QueueUnavailableError as exc:
                logger.warning("spend queue unavailable (%s): applying the event directly", exc)
        try:
            result = await Applier(self.db).apply([event])
        except (DynamoUnavailableError, DynamoError) as exc:
            logger.warning("spend event not applied: %s", type(exc).__name__)
            return "held"
        error = result.failed.get(event.request_id)
        if error is None:
            return "delivered"
        if isinstance(error, UnchargeableEventError):
            return _dropped(event, type(error).__name__)
        return "held"

    def hold(self, event: SpendEvent) -> None:
        """Keep the event in memory, to retry after later events (oldest first)."""
        if len(self.pending) >= MAX_PENDING:
            dropped = self.pending.popleft()
            logger.error("spend event lost (memory full): request %s", dropped.request_id)
        self.pending.append(event)
        logger.error(
            "spend event kept in memory for retry: request %s (%d pending)",
            event.request_id,
            len(self.pending),
        )


def _dropped(event: SpendEvent, reason: str) -> Fate:
    logger.error(
        "spend event dropped, it can never be delivered (%s): request %s, key %s, %d micro-USD",
        reason,
        event.request_id,
        event.key_id,
        event.spend_micros,
        extra={"request_id": event.request_id, "reason": reason},
    )
    return "dropped"
