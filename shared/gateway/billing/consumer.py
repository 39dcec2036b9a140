"""The spend function's work on one SQS batch: records in, `batchItemFailures` out.

The event source mapping hands over up to 100 messages, one `SpendEvent` each. Every
record is parsed first: one that is not a spend event fails alone (after the queue's
maxReceiveCount it moves to the dead-letter queue and blocks nothing). The valid events
are applied together by one `Applier.apply`, so their counters merge, and Powertools'
BatchProcessor reports exactly the messages that were not applied
(ReportBatchItemFailures): SQS redelivers only those, and the ledger makes any of them
that did commit a duplicate. An event DynamoDB refuses (`UnchargeableEventError`) fails
alone too: the applier applies the events of a refused transaction one by one, so the
others of its batch are charged, and the refused one reaches the dead-letter queue.

Lambda calls `handle` through functions/spend/handler.py; `make dev` and the tests call it
through gateway/local/spend_worker.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from gateway.billing.apply import Applier, ApplyResult, UnchargeableEventError
from gateway.config import settings
from gateway.spend.events import PoisonEventError, SpendEvent
from gateway.store import dynamo

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = logging.getLogger(__name__)


class SpendNotAppliedError(Exception):
    """The message's event was not applied (or its alert not sent): SQS retries it."""


def handle(
    event: dict[str, Any],
    context: LambdaContext | None = None,
    *,
    applier: Applier | None = None,
    runner: asyncio.Runner | None = None,
) -> dict[str, Any]:
    """Apply an SQS batch; answer Lambda's partial batch response.

    Without `runner`, the batch runs in its own `asyncio.run` and DynamoDB connections
    are closed afterwards (they belong to that loop). A caller with a long-lived loop
    passes its runner and an applier whose connections it owns.
    """
    parsed: dict[str, SpendEvent | PoisonEventError] = {}
    for record in event.get("Records") or []:
        parsed[record["messageId"]] = _parse(record)
    events = [p for p in parsed.values() if isinstance(p, SpendEvent)]
    result = _run(applier, events, runner)
    logger.info(
        "spend batch applied",
        extra={
            "records": len(parsed),
            "applied": len(result.applied),
            "duplicates": len(result.duplicates),
            "failed": len(result.failed),
            "poison": len(parsed) - len(events),
            "refused": sum(isinstance(e, UnchargeableEventError) for e in result.failed.values()),
        },
    )

    def record_handler(record: SQSRecord) -> str:
        outcome = parsed[record.message_id]
        if isinstance(outcome, PoisonEventError):
            raise outcome
        error = result.failed.get(outcome.request_id)
        if error is not None:
            raise SpendNotAppliedError(type(error).__name__) from error
        return result.outcome(outcome.request_id)

    # An all-failed batch is answered like any other (every messageId listed), not raised.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response: dict[str, Any] = dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
    return response


def _parse(record: dict[str, Any]) -> SpendEvent | PoisonEventError:
    try:
        return SpendEvent.parse(record["body"])
    except PoisonEventError as exc:
        poison = exc
    except (TypeError, ValueError, KeyError) as exc:  # malformed beyond what parse names
        poison = PoisonEventError(f"unreadable event ({type(exc).__name__})")
    logger.warning(
        "not a spend event", extra={"message_id": record["messageId"], "reason": str(poison)}
    )
    return poison


def _run(
    applier: Applier | None, events: Sequence[SpendEvent], runner: asyncio.Runner | None
) -> ApplyResult:
    if runner is not None:
        return runner.run(_apply(applier, events))
    return asyncio.run(_apply(applier, events, own_loop=True))


async def _apply(
    applier: Applier | None, events: Sequence[SpendEvent], *, own_loop: bool = False
) -> ApplyResult:
    try:
        if not events:
            return ApplyResult()
        if applier is None:
            table = settings().table_name
            if not table:
                raise RuntimeError("GATEWAY_TABLE is not set")
            applier = Applier(dynamo.Dynamo(table))
        return await applier.apply(events)
    finally:
        if own_loop:  # its connections end with the loop asyncio.run is about to close
            dynamo.release_loop(asyncio.get_running_loop())
