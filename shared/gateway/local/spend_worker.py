"""The spend function, locally: poll SpendQueue, call the spend handler, delete what it applied.

In AWS, Lambda's event source mapping does this. Here, as there:

- messages are received in batches of up to `batch_size` (ReceiveMessage gives at most
  10 at a time) and handed to `gateway.billing.consumer.handle` as a Lambda SQS event;
- the messages the handler does not list in `batchItemFailures` are deleted; the others
  come back after their visibility timeout, and after the queue's maxReceiveCount
  receives the emulation moves them to the dead-letter queue, as SQS does;
- a handler that raises leaves the whole batch to come back.

Unlike there, polls are short (WaitTimeSeconds=0) with a pause when the queue is empty:
the emulation serves one AWS call at a time, so a long poll would hold every other call
of the stack for its whole wait. And the worker has its own event loop and its own
DynamoDB connections: it runs in the same process as the API, whose connections belong
to uvicorn's loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.billing import consumer
from gateway.billing.apply import Applier, ApplyResult
from gateway.config import settings
from gateway.store import dynamo
from gateway.store.dynamo import Dynamo

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from gateway.billing.alerts import AlertSender
    from gateway.spend.events import SpendEvent

logger = logging.getLogger(__name__)

RECEIVE_MAX = 10  # SQS's limit per ReceiveMessage
IDLE_PAUSE_S = 0.25


@dataclass
class DrainStats:
    """What a drain did: handler invocations, messages, and the events they carried."""

    invocations: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0  # listed in batchItemFailures (they come back after the visibility timeout)
    crashed: int = 0  # invocations that raised (their whole batch comes back)
    applied: int = 0  # events newly applied
    duplicates: int = 0  # events found in the ledger already


class _CountingApplier(Applier):
    def __init__(self, db: Dynamo, alerts: AlertSender | None) -> None:
        super().__init__(db, alerts=alerts)
        self.stats = DrainStats()

    async def apply(self, events: Sequence[SpendEvent]) -> ApplyResult:
        result = await super().apply(events)
        self.stats.applied += len(result.applied)
        self.stats.duplicates += len(result.duplicates)
        return result


class SpendWorker:
    """Polls one queue and applies its batches. Use from one thread, then `close()`."""

    def __init__(
        self,
        queue_url: str,
        *,
        table: str | None = None,
        alerts: AlertSender | None = None,
        batch_size: int = 100,
        visibility_timeout: int | None = None,
        sqs: Any = None,
    ) -> None:
        import boto3

        name = table or settings().table_name
        if not name:
            raise ValueError("no table: pass table= or set GATEWAY_TABLE")
        self.queue_url = queue_url
        self.batch_size = batch_size
        self.visibility_timeout = visibility_timeout
        self.sqs: Any = sqs or boto3.session.Session().client("sqs")
        self.db = Dynamo(name)
        self.applier = _CountingApplier(self.db, alerts)
        self.runner = asyncio.Runner()
        self._arn: str | None = None
        # SQS calls of one batch made at once (boto3 clients are thread-safe).
        self._calls = ThreadPoolExecutor(
            max_workers=max(1, -(-batch_size // RECEIVE_MAX)), thread_name_prefix="spend-sqs"
        )

    def __enter__(self) -> SpendWorker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._calls.shutdown()
        self.runner.run(_release_connections())
        self.runner.close()

    @property
    def stats(self) -> DrainStats:
        """Totals since the worker started."""
        return self.applier.stats

    def poll(self) -> int:
        """Receive one batch, hand it to the handler, delete what it applied.

        Returns the number of messages received (0: none visible)."""
        stats = self.stats
        messages = self._receive()
        if not messages:
            return 0
        stats.received += len(messages)
        stats.invocations += 1
        try:
            response = consumer.handle(
                self._event(messages), applier=self.applier, runner=self.runner
            )
        except Exception:
            logger.exception("spend handler failed; the batch comes back")
            stats.crashed += 1
            return len(messages)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        stats.failed += len(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        self._delete(done)
        stats.deleted += len(done)
        return len(messages)

    def drain(self, max_batches: int = 10_000) -> DrainStats:
        """Process batches until a receive finds no visible message; the totals."""
        for _ in range(max_batches):
            if not self.poll():
                break
        return self.stats

    def run(self, stop: threading.Event, idle_pause: float = IDLE_PAUSE_S) -> None:
        while not stop.is_set():
            try:
                received = self.poll()
            except Exception:  # the emulation went away, or a bug: keep the stack up
                logger.exception("spend worker poll failed")
                received = 0
            if not received:
                stop.wait(idle_pause)

    def _receive(self) -> list[dict[str, Any]]:
        """Up to `batch_size` messages: one receive, and when it comes back full (a
        backlog), the rest of the batch in receives made at once, as the event source
        mapping's pollers do. One after another, each would wait its turn at the
        emulation behind the calls of every request in flight."""
        first = self._receive_some(min(RECEIVE_MAX, self.batch_size))
        wanted = self.batch_size - len(first)
        if len(first) < RECEIVE_MAX or wanted <= 0:
            return first
        sizes = [min(RECEIVE_MAX, wanted - n) for n in range(0, wanted, RECEIVE_MAX)]
        return first + [m for got in self._calls.map(self._receive_some, sizes) for m in got]

    def _receive_some(self, count: int) -> list[dict[str, Any]]:
        args: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": count,
            "WaitTimeSeconds": 0,
            "MessageSystemAttributeNames": ["All"],
        }
        if self.visibility_timeout is not None:
            args["VisibilityTimeout"] = self.visibility_timeout
        return list(self.sqs.receive_message(**args).get("Messages", []))

    def _event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """A Lambda SQS event, as the event source mapping delivers it."""
        if self._arn is None:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
            )
            self._arn = str(attributes["Attributes"]["QueueArn"])
        region = self._arn.split(":")[3]
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        **{k: str(v) for k, v in m.get("Attributes", {}).items()},
                    },
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self._arn,
                    "awsRegion": region,
                }
                for m in messages
            ]
        }

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        chunks = [messages[n : n + RECEIVE_MAX] for n in range(0, len(messages), RECEIVE_MAX)]
        list(self._calls.map(self._delete_some, chunks))  # at once, as in _receive

    def _delete_some(self, chunk: list[dict[str, Any]]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
        self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)


async def _release_connections() -> None:
    """The worker's DynamoDB connections end with its loop (the API's are untouched)."""
    dynamo.release_loop(asyncio.get_running_loop())


def drain_sync(
    queue_url: str,
    table: str | None = None,
    *,
    alerts: AlertSender | None = None,
    visibility_timeout: int | None = None,
    batch_size: int = 100,
) -> DrainStats:
    """Apply every visible message of `queue_url`, from synchronous code; the totals."""
    with SpendWorker(
        queue_url,
        table=table,
        alerts=alerts,
        visibility_timeout=visibility_timeout,
        batch_size=batch_size,
    ) as worker:
        return worker.drain()


async def drain(
    queue_url: str,
    table: str | None = None,
    *,
    alerts: AlertSender | None = None,
    visibility_timeout: int | None = None,
    batch_size: int = 100,
) -> int:
    """Apply every visible message of `queue_url`; the number of events newly applied.

    Runs in a worker thread with its own loop and connections, so it can be awaited from
    a test whose loop also serves the gateway."""
    stats = await asyncio.to_thread(
        drain_sync,
        queue_url,
        table,
        alerts=alerts,
        visibility_timeout=visibility_timeout,
        batch_size=batch_size,
    )
    return stats.applied


def start(queue_url: str, *, table: str | None = None) -> threading.Event:
    """Run a worker in a daemon thread (`make dev`); set the returned event to stop it."""
    stop = threading.Event()

    def work() -> None:
        with SpendWorker(queue_url, table=table) as worker:
            worker.run(stop)

    threading.Thread(target=work, name="spend-worker", daemon=True).start()
    return stop
