"""Delivering each request's spend event without ever failing the request.

1. SQS (GATEWAY_SPEND_QUEUE_URL): the spend function applies it in batches.
2. If the send fails (SQS unreachable, throttled past retries), the event is applied
   directly to DynamoDB by the same exactly-once code the spend function runs
   (gateway/billing/apply.py: ledger item and aggregates in one transaction), so an SQS
   outage loses nothing and settles budgets at once.
3. If DynamoDB fails too, the event stays in this sandbox's memory (up to MAX_PENDING)
   and is retried, oldest first, after later requests' events; an error is logged with
   the request id. Only a sandbox that dies while both services are down loses events.

Delivery is at least once from here on; the ledger makes it exactly once.
"""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING

from gateway.billing.apply import Applier
from gateway.billing.queue import QueueUnavailableError, SpendQueue
from gateway.store.dynamo import DynamoError, DynamoUnavailableError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.spend.events import SpendEvent
    from gateway.store.dynamo import Dynamo

logger = logging.getLogger(__name__)

MAX_PENDING = 10_000
FLUSH_PER_EVENT = 10  # pending events retried after each delivered one (bounded work)


class SpendEmitter:
    """One per app instance (its pending events are the sandbox's own)."""

    def __init__(self, db: Dynamo, queue_url: str | None) -> None:
        self.db = db
        self.queue = SpendQueue(queue_url) if queue_url else None
        self.pending: collections.deque[SpendEvent] = collections.deque()

    async def emit(self, event: SpendEvent) -> None:
        """Deliver the event (never raises); then retry a few held back earlier."""
        if not await self._deliver(event):
            self.hold(event)
            return
        for _ in range(min(FLUSH_PER_EVENT, len(self.pending))):
            held = self.pending.popleft()
            if not await self._deliver(held):
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

    async def _deliver(self, event: SpendEvent) -> bool:
        if self.queue is not None:
            try:
                await self.queue.send(event.dumps(), event.request_id)
                return True
            except QueueUnavailableError as exc:
                logger.warning("spend queue unavailable (%s): applying the event directly", exc)
        try:
            result = await Applier(self.db).apply([event])
        except (DynamoUnavailableError, DynamoError) as exc:
            logger.warning("spend event not applied: %s", type(exc).__name__)
            return False
        return event.request_id not in result.failed

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
