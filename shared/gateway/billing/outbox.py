"""Spend events leave the request path: the request hands its event over and ends; a
task of the app instance delivers it (gateway/billing/emit.py) after the response.

Why nothing is lost when Lambda freezes the sandbox after the response:
- The event is in this process's memory before the response's last byte, and the
  delivering task is the instance's own, not the request's: a client that leaves
  cancels its request, never the delivery.
- A sandbox frozen mid-delivery resumes it when thawed for its next request; a send cut
  by the freeze is retried, and a send that went through twice is one ledger item
  (the ledger is keyed by request id: delivery is at least once, the ledger exactly once).
- A sandbox that is never thawed is shut down: Lambda sends the runtime SIGTERM (the
  Lambda Web Adapter is an external extension, which makes the shutdown graceful), so
  uvicorn runs the app's lifespan shutdown, which delivers what is left (`settle`)
  within GATEWAY_SPEND_FLUSH_S (0.25 s), inside the 300 ms Lambda gives before SIGKILL.
  A sandbox serves one request at a time, so what is left is the last event or two,
  one SendMessage or SendMessageBatch.
Only a sandbox killed without a shutdown (a crash, a timeout) loses the events it had
not sent yet, as it would lose the requests it was serving.

Memory is bounded: at most MAX_WAITING events wait here (a delivery stuck for that many
requests loses the oldest, each logged with its request id), and the emitter keeps at
most its MAX_PENDING for retries and drops what can never be delivered. Retries of held
events run in this task too: no response waits for them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.billing.emit import SpendEmitter
    from gateway.spend.events import SpendEvent

logger = logging.getLogger(__name__)

MAX_BATCH = 10  # SQS SendMessageBatch's limit
MAX_WAITING = 10_000
_outboxes: weakref.WeakSet[SpendOutbox] = weakref.WeakSet()


class SpendOutbox:
    """One per app instance, over its emitter."""

    def __init__(self, emitter: SpendEmitter) -> None:
        self.emitter = emitter
        self.waiting: collections.deque[SpendEvent] = collections.deque()
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the app's, where it delivers
        _outboxes.add(self)

    def put(self, event: SpendEvent) -> None:
        """Hand the event over (no I/O, never raises); delivery starts at once."""
        if len(self.waiting) >= MAX_WAITING:
            lost = self.waiting.popleft()
            logger.error("spend event lost (outbox full): request %s", lost.request_id)
        self.waiting.append(event)
        if self.task is None or self.task.done():
            self.loop = asyncio.get_running_loop()
            self.task = self.loop.create_task(self._deliver())

    async def _deliver(self) -> None:
        """Deliver until nothing waits: one event at a time as requests end one by one
        (Lambda), a batch when a backlog has formed (many requests at once, `make dev`)."""
        while self.waiting:
            batch = [self.waiting.popleft() for _ in range(min(MAX_BATCH, len(self.waiting)))]
            try:
                await self.emitter.emit_many(batch)  # never raises; keeps what it cannot send
            except asyncio.CancelledError:
                self.waiting.extendleft(reversed(batch))
                raise
            except Exception:  # a bug: keep the events for a retry rather than lose them
                logger.exception("spend delivery failed: %d events held", len(batch))
                for event in batch:
                    self.emitter.hold(event)

    async def settle(self) -> None:
        """Wait until every event handed over has been delivered (or held by the emitter)."""
        while self.waiting or (self.task is not None and not self.task.done()):
            if self.task is None or self.task.done():
                self.loop = asyncio.get_running_loop()
                self.task = self.loop.create_task(self._deliver())
            await asyncio.shield(self.task)


async def settle(timeout_s: float | None = None) -> None:
    """Deliver what every outbox of this event loop still holds (shutdown, tests)."""
    loop = asyncio.get_running_loop()
    pending = [outbox.settle() for outbox in list(_outboxes) if outbox.loop is loop]
    if not pending:
        return
    try:
        await asyncio.wait_for(asyncio.gather(*pending), timeout_s)
    except TimeoutError:
        left = sum(len(outbox.waiting) for outbox in list(_outboxes) if outbox.loop is loop)
        logger.error("shutdown: %d spend events not delivered in time", left)
