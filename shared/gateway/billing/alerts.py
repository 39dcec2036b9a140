"""Soft budget alerts: one EventBridge event per budget period and entity once spend crosses
its soft budget (LiteLLM's `soft_budget`, which alerts and never refuses).

After a batch's settlements commit, each budget item its events touched that carries a
soft budget gets a conditional flag: `SET soft_alerted = true` if it is not set yet and
`spent >= soft_budget_micros`. Only the writer whose flag lands sends the event, so
concurrent invocations and redeliveries alert once. If sending fails the flag is taken
back (conditionally) and the batch's messages for that item fail: their redelivery
finds them in the ledger (duplicates) and runs this check again.

`soft_alert_id` records which attempt set the flag: when the response to the flag write
is lost and the client's retry then fails the condition, the old item shows it was ours
and the alert is still sent.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from gateway.billing.ledger import budget_key
from gateway.config import settings
from gateway.store.dynamo import (
    ConditionFailedError,
    DynamoError,
    DynamoUnavailableError,
    decode_item,
    encode_item,
    values,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gateway.billing.ledger import Key
    from gateway.spend.events import Hold, SpendEvent
    from gateway.store.dynamo import Dynamo, Item

logger = logging.getLogger(__name__)

SOURCE = "llm-gateway"
DETAIL_TYPE = "Soft budget crossed"


class AlertError(Exception):
    """The alert could not be sent; the messages that could have sent it must fail."""


@dataclass(frozen=True, slots=True)
class SoftBudgetAlert:
    scope: str
    entity_id: str
    period: str
    period_end: int | None
    spent_micros: int | None
    soft_budget_micros: int
    max_budget_micros: int | None
    at: float = 0.0  # epoch seconds of the check (the event's Time); not in the detail

    def detail(self) -> dict[str, Any]:
        detail = asdict(self)
        del detail["at"]
        if self.spent_micros is None:
            del detail["spent_micros"]
        return detail


class AlertSender(Protocol):
    async def send(self, alert: SoftBudgetAlert) -> None:
        """Deliver the alert or raise."""


def event_bus() -> str:
    return settings().event_bus


class EventBridgeAlerts:
    """PutEvents on the stack's bus; boto3 (blocking) runs in a worker thread."""

    def __init__(self, bus: str | None = None) -> None:
        self.bus = bus or event_bus()

    async def send(self, alert: SoftBudgetAlert) -> None:
        await asyncio.to_thread(self._put, alert)

    def _put(self, alert: SoftBudgetAlert) -> None:
        from gateway import aws

        entry: dict[str, Any] = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": orjson.dumps(alert.detail()).decode(),
            "EventBusName": self.bus,
        }
        if alert.at:
            entry["Time"] = datetime.datetime.fromtimestamp(alert.at, datetime.UTC)
        try:
            response = aws.client("events").put_events(Entries=[entry])
        except Exception as exc:  # botocore's errors: any of them means "not sent"
            raise AlertError(f"PutEvents failed: {type(exc).__name__}") from None
        if response.get("FailedEntryCount"):
            code = response["Entries"][0].get("ErrorCode", "unknown")
            raise AlertError(f"PutEvents refused the entry: {code}")


@dataclass(frozen=True, slots=True)
class Watch:
    """A budget item with a soft budget that a batch's events were charged to."""

    key: Key
    hold: Hold
    request_ids: frozenset[str]


def watches(events: Iterable[SpendEvent]) -> list[Watch]:
    found: dict[Key, tuple[Hold, int, set[str]]] = {}
    for event in events:
        for hold in event.holds:
            if hold.soft_budget_micros is None:
                continue
            key = budget_key(hold)
            latest, at, rids = found.get(key, (hold, -1, set()))
            rids.add(event.request_id)
            found[key] = (hold, event.end_ms, rids) if event.end_ms >= at else (latest, at, rids)
    return [Watch(key, hold, frozenset(rids)) for key, (hold, _, rids) in found.items()]


async def check(db: Dynamo, sender: AlertSender, watch: Watch, now: float = 0.0) -> bool:
    """Alert if the item crossed its soft budget and nobody alerted yet.

    True when nothing is left to do; False when the alert may be owed and was not sent
    (the caller fails the watch's messages so that redelivery checks again).
    """
    soft = watch.hold.soft_budget_micros
    assert soft is not None
    token = uuid.uuid4().hex
    key = encode_item({"pk": watch.key[0], "sk": watch.key[1]})
    try:
        data = await db.call(
            "UpdateItem",
            {
                "Key": key,
                "UpdateExpression": "SET soft_alerted = :yes, soft_alert_id = :id",
                "ConditionExpression": "attribute_not_exists(soft_alerted) AND spent >= :soft",
                "ExpressionAttributeValues": values(yes=True, id=token, soft=soft),
                "ReturnValues": "ALL_NEW",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        )
        item = decode_item(data.get("Attributes") or {})
    except ConditionFailedError as exc:
        item = exc.item or {}
        if item.get("soft_alert_id") != token:
            return True  # under the soft budget, or alerted already
    except (DynamoError, DynamoUnavailableError) as exc:
        logger.warning("soft budget check failed", extra={"error": str(exc), "pk": watch.key[0]})
        return False
    try:
        await sender.send(_alert(watch, soft, item, now))
    except AlertError as exc:
        logger.warning("soft budget alert not sent", extra={"error": str(exc)})
        await _undo(db, key, token)
        return False
    return True


def _alert(watch: Watch, soft: int, item: Item, now: float) -> SoftBudgetAlert:
    hold = watch.hold
    spent = item.get("spent")
    maximum = item.get("max_budget_micros", hold.max_budget_micros)
    return SoftBudgetAlert(
        scope=hold.scope,
        entity_id=hold.entity_id,
        period=hold.period,
        period_end=hold.period_end,
        spent_micros=spent if isinstance(spent, int) else None,
        soft_budget_micros=soft,
        max_budget_micros=maximum if isinstance(maximum, int) else None,
        at=now,
    )


async def _undo(db: Dynamo, key: dict[str, Any], token: str) -> None:
    try:
        await db.call(
            "UpdateItem",
            {
                "Key": key,
                "UpdateExpression": "REMOVE soft_alerted, soft_alert_id",
                "ConditionExpression": "soft_alert_id = :id",
                "ExpressionAttributeValues": values(id=token),
            },
        )
    except ConditionFailedError:
        pass  # not ours any more: a retry of a lost answer found it taken back already
    except (DynamoError, DynamoUnavailableError) as exc:
        # The flag stays: this period's alert is lost. Logged at error for an operator.
        logger.error("soft budget flag not taken back", extra={"error": str(exc)})
