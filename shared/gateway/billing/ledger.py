"""What a batch of spend events writes: the ledger items, counters and budget settlements.

Pure: builds TransactWriteItems actions from `SpendEvent`s (layout in
/work/notes/spend-layout.md and `gateway.store.table`); `gateway.billing.apply` does the I/O.

A transaction writes each item at most once (DynamoDB refuses two actions on one item),
so the counters of every event in it are summed per item first: a hundred requests of
one key cost one update of that key's daily row, not a hundred. Each event's ledger Put
carries `attribute_not_exists(pk)`; since the counters commit in the same transaction,
a redelivered event fails the whole transaction instead of counting twice.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gateway.schemas.bounds import clip
from gateway.spend.events import SpendEvent
from gateway.store import table
from gateway.store.dynamo import encode, encode_item

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from gateway.spend.events import Hold
    from gateway.store.dynamo import Item

MAX_ACTIONS = 100  # TransactWriteItems' limit
MAX_SORT_KEY_BYTES = 1024  # DynamoDB's; a partition key takes 2048
EXPIRY_AFTER_PERIOD_S = 90 * 86_400
COUNTERS = (
    "spend_micros",
    "requests",
    "failures",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
)
# Codes in TransactionCanceledException's reasons that a later attempt can get past.
RETRY_CODES = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})

Key = tuple[str, str]  # (pk, sk)
_LEDGER_FIELDS = tuple(f.name for f in dataclasses.fields(SpendEvent) if f.name != "holds")


def day_of(start_ms: int) -> str:
    """The UTC day (YYYY-MM-DD) an event counts in: the day its request started."""
    return time.strftime("%Y-%m-%d", time.gmtime(start_ms // 1000))


def budget_key(hold: Hold) -> Key:
    return table.budget_pk(hold.scope, hold.entity_id), hold.period


def ledger_item(event: SpendEvent) -> Item:
    """The spend-log item: the event's fields (None omitted) plus its day and index keys."""
    item: Item = {}
    for name in _LEDGER_FIELDS:
        value = getattr(event, name)
        if value is not None:
            item[name] = list(value) if isinstance(value, tuple) else value
    day = day_of(event.start_ms)
    sort = f"{event.start_ms:013d}#{event.request_id}"
    item.update(pk=table.ledger_pk(event.request_id), sk=table.LEDGER_SK, day=day)
    item.update(gsi1pk=table.logs_pk(None, day), gsi1sk=sort)
    if event.team_id:
        item.update(gsi2pk=table.logs_pk("team", event.team_id), gsi2sk=sort)
    if event.user_id:
        item.update(gsi3pk=table.logs_pk("user", event.user_id), gsi3sk=sort)
    if event.api_key:
        item.update(gsi4pk=table.logs_pk("key", event.api_key), gsi4sk=sort)
    return item


def counts(event: SpendEvent) -> dict[str, int]:
    return {
        "spend_micros": event.spend_micros,
        "requests": 1,
        "failures": int(event.status == "failure"),
        "cache_hits": int(event.cache_hit),
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "cached_tokens": event.cached_tokens,
        "reasoning_tokens": event.reasoning_tokens,
    }


def counter_rows(event: SpendEvent) -> dict[Key, dict[str, Any]]:
    """Every aggregate and day-report row the event adds to, with the attributes each SETs."""
    day = day_of(event.start_ms)
    tags = list(dict.fromkeys(event.tags))
    rows: dict[Key, dict[str, Any]] = {}

    def entity(scope: str, entity_id: str, daily: bool) -> None:
        pk = table.spend_pk(scope, entity_id)
        rows[pk, table.TOTAL_SK] = {"scope": scope, "entity_id": entity_id}
        if daily:
            rows[pk, day] = {"scope": scope, "entity_id": entity_id, "day": day}

    if event.key_id:
        entity("key", event.key_id, daily=True)
    if event.team_id:
        entity("team", event.team_id, daily=True)
    if event.user_id:
        entity("user", event.user_id, daily=True)
    if event.model_group:
        entity("model", event.model_group, daily=False)
    for tag in tags:
        entity("tag", tag, daily=False)
    report = table.report_pk(day)
    team = event.team_id or table.NO_TEAM
    # A team id and a model group, each up to 1 KiB in an event, may not fit one sort key
    # together: such a row is cut (its attributes still name both).
    rows[report, clip(f"T#{team}#{event.model_group}", MAX_SORT_KEY_BYTES)] = {
        "team_id": event.team_id or None,
        "model_group": event.model_group,
        "day": day,
    }
    for tag in tags:
        rows[report, f"G#{tag}"] = {"tag": tag, "day": day}
    return rows


def budget_holds(event: SpendEvent) -> dict[Key, Hold]:
    """The event's holds by budget item (one per item: a second one would be malformed)."""
    holds: dict[Key, Hold] = {}
    for hold in event.holds:
        holds.setdefault(budget_key(hold), hold)
    return holds


def touched(event: SpendEvent) -> set[Key]:
    """Every item the event writes besides its ledger item."""
    return set(counter_rows(event)) | set(budget_holds(event))


# ---- merged updates --------------------------------------------------------------------


class _Names:
    """Placeholders of one action. DynamoDB refuses unused ones, so each is made on use."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # placeholder -> attribute name
        self.values: dict[str, Any] = {}  # placeholder -> attribute value
        self._placeholders: dict[str, str] = {}  # attribute name -> placeholder

    def name(self, attribute: str) -> str:
        placeholder = self._placeholders.get(attribute)
        if placeholder is None:
            placeholder = self._placeholders[attribute] = f"#n{len(self.names)}"
            self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = encode(value)
        return placeholder


@dataclass(slots=True)
class CounterUpdate:
    """ADD counters to one aggregate or report row, summed over the transaction's events."""

    key: Key
    sets: dict[str, Any]
    added: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))

    def add(self, amounts: dict[str, int]) -> None:
        for name, amount in amounts.items():
            self.added[name] += amount

    def action(self, table_name: str) -> dict[str, Any]:
        n = _Names()
        adds = ", ".join(f"{n.name(k)} {n.value(v)}" for k, v in self.added.items())
        sets = ", ".join(
            f"{n.name(k)} = {n.value(v)}" for k, v in self.sets.items() if v is not None
        )
        expression = f"ADD {adds}" + (f" SET {sets}" if sets else "")
        return _update(table_name, self.key, expression, n)


@dataclass(slots=True)
class Settlement:
    """One budget item's settlement for the transaction's events.

    A hold whose minute's slot is still in `holds` is returned (`remaining += amount -
    cost`, `reserved -= amount`, `holds.<slot> -= amount`), on the condition that the
    slot is there; a hold whose slot admission gave back in the meantime (its requests
    outlived the deadline) or that reserved nothing is a plain charge (`remaining -=
    cost`). `spent += cost` either way.
    """

    key: Key
    hold: Hold  # the latest event's: its period end and budgets are the current ones
    latest_ms: int = -1
    returned: dict[str, tuple[int, str]] = field(default_factory=dict)  # rid -> amount, slot
    cost: int = 0

    def add(self, event: SpendEvent, hold: Hold, *, present: bool) -> None:
        self.cost += event.spend_micros
        if present and hold.amount_micros > 0 and hold.slot:
            self.returned[event.request_id] = (hold.amount_micros, hold.slot)
        if event.end_ms >= self.latest_ms:
            self.hold, self.latest_ms = hold, event.end_ms

    @property
    def slots(self) -> dict[str, int]:
        """Amount returned per slot."""
        out: dict[str, int] = {}
        for amount, slot in self.returned.values():
            out[slot] = out.get(slot, 0) + amount
        return out

    def action(self, table_name: str) -> dict[str, Any]:
        n = _Names()
        hold, slots = self.hold, self.slots
        reserved = sum(slots.values())
        zero = n.value(0)
        start = f"if_not_exists({n.name('remaining')}, {n.value(hold.max_budget_micros or 0)})"
        sets = [
            f"{n.name('remaining')} = {start} + {n.value(reserved - self.cost)}",
            f"{n.name('reserved')} = if_not_exists({n.name('reserved')}, {zero})"
            f" - {n.value(reserved)}",
            f"{n.name('spent')} = if_not_exists({n.name('spent')}, {zero}) + {n.value(self.cost)}",
        ]
        extra: dict[str, Any] = {
            "period_start": _period_start(hold.period),
            "period_end": hold.period_end,
            "expires_at": None
            if hold.period_end is None
            else hold.period_end + EXPIRY_AFTER_PERIOD_S,
            "soft_budget_micros": hold.soft_budget_micros,
        }
        sets += [f"{n.name(k)} = {n.value(v)}" for k, v in extra.items() if v is not None]
        if hold.max_budget_micros is not None:  # as admission would have created the item
            sets.append(
                f"{n.name('max_budget_micros')} = if_not_exists("
                f"{n.name('max_budget_micros')}, {n.value(hold.max_budget_micros)})"
            )
        paths = {slot: f"{n.name('holds')}.{n.name(slot)}" for slot in slots}
        sets += [f"{path} = {path} - {n.value(slots[slot])}" for slot, path in paths.items()]
        expression = "SET " + ", ".join(sets)
        condition = " AND ".join(f"attribute_exists({path})" for path in paths.values())
        return _update(table_name, self.key, expression, n, condition or None)


def _period_start(period: str) -> int | None:
    if period == "all":
        return 0
    start = period.rpartition("@")[2]
    return int(start) if start.isdigit() else None


def _update(
    table_name: str, key: Key, expression: str, n: _Names, condition: str | None = None
) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": table_name,
        "Key": encode_item({"pk": key[0], "sk": key[1]}),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": n.names,
        "ExpressionAttributeValues": n.values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


# ---- one transaction ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """What one action of a transaction writes, to read its cancellation reason."""

    kind: Literal["ledger", "counter", "budget"]
    key: Key
    request_id: str = ""  # the ledger's


@dataclass(slots=True)
class Verdict:
    """What a cancelled transaction taught: drop these, charge those, or try again."""

    duplicates: set[str] = field(default_factory=set)  # already in the ledger
    healed: set[tuple[str, Key]] = field(default_factory=set)  # (request id, budget item)
    retry: bool = False  # a conflict or throttling: the same plan may pass later
    invalid: str | None = None  # a reason no attempt gets past (a bug, or a limit)


@dataclass(slots=True)
class Transaction:
    table_name: str
    ledger: dict[str, Item] = field(default_factory=dict)
    counters: dict[Key, CounterUpdate] = field(default_factory=dict)
    settlements: dict[Key, Settlement] = field(default_factory=dict)

    @classmethod
    def of(
        cls, table_name: str, events: Iterable[SpendEvent], healed: Collection[tuple[str, Key]]
    ) -> Transaction:
        """The transaction of `events`; `healed` holds are charged, not returned."""
        txn = cls(table_name)
        for event in events:
            txn.ledger[event.request_id] = ledger_item(event)
            amounts = counts(event)
            for key, sets in counter_rows(event).items():
                txn.counters.setdefault(key, CounterUpdate(key, sets)).add(amounts)
            for key, hold in budget_holds(event).items():
                settlement = txn.settlements.setdefault(key, Settlement(key, hold))
                settlement.add(event, hold, present=(event.request_id, key) not in healed)
        return txn

    def targets(self) -> list[Target]:
        return (
            [Target("ledger", (item["pk"], item["sk"]), rid) for rid, item in self.ledger.items()]
            + [Target("counter", key) for key in self.counters]
            + [Target("budget", key) for key in self.settlements]
        )

    def actions(self) -> list[dict[str, Any]]:
        """TransactItems in the order of `targets()`."""
        puts = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": encode_item(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for item in self.ledger.values()
        ]
        counters = [update.action(self.table_name) for update in self.counters.values()]
        budgets = [s.action(self.table_name) for s in self.settlements.values()]
        return puts + counters + budgets

    def read(self, reasons: list[tuple[str, Item | None]]) -> Verdict:
        """The verdict of a TransactionCanceledException's reasons (with ALL_OLD items)."""
        verdict = Verdict()
        missing: set[tuple[str, Key]] = set()
        for (code, old), target in zip(reasons, self.targets(), strict=False):
            if code in ("None", ""):
                continue
            if code in RETRY_CODES:
                verdict.retry = True
            elif code != "ConditionalCheckFailed" or target.kind == "counter":
                verdict.invalid = f"{code} on {target.kind}"
            elif target.kind == "ledger":
                verdict.duplicates.add(target.request_id)
            else:
                holds = (old or {}).get("holds") or {}
                returned = self.settlements[target.key].returned
                missing |= {
                    (rid, target.key) for rid, (_, slot) in returned.items() if slot not in holds
                }
        verdict.healed = {(rid, key) for rid, key in missing if rid not in verdict.duplicates}
        return verdict


# ---- emptied budget slots ----------------------------------------------------------------


def emptied_slots(events: Iterable[SpendEvent], current_slot: str) -> set[tuple[Key, str]]:
    """(budget item, slot) the events settled in, for minutes already over."""
    out: set[tuple[Key, str]] = set()
    for event in events:
        for key, hold in budget_holds(event).items():
            if hold.slot and hold.amount_micros > 0 and int(hold.slot) < int(current_slot):
                out.add((key, hold.slot))
    return out


def sweep(key: Key, slot: str) -> dict[str, Any]:
    """Remove a slot that holds nothing any more."""
    return {
        "Key": encode_item({"pk": key[0], "sk": key[1]}),
        "UpdateExpression": "REMOVE holds.#slot",
        "ConditionExpression": "holds.#slot = :zero",
        "ExpressionAttributeNames": {"#slot": slot},
        "ExpressionAttributeValues": {":zero": encode(0)},
    }
