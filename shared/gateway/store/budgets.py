"""Budget reservations: the worst case is taken from a remaining allowance before the call.

Each budgeted level (key, team, user) has one item per budget period,
`BUDGET#<scope>#<id>` / `<period id>` (gateway/spend/periods.py): a new period is a new
item, so budgets reset exactly on time with no job. The item holds

    max_budget_micros  the budget the item was opened with
    remaining          max - spent - reserved (kept, since conditions cannot do arithmetic)
    reserved           sum of the holds
    spent              settled spend (the spend function adds it)
    holds              epoch minute -> amount reserved in that minute and not yet settled

Admission reserves with `SET remaining = remaining - :a, holds.<minute> += :a ...` on
the condition `max_budget_micros = :max AND remaining >= :a`, in the same write as the
rate limits (gateway/store/limits.py). A refused write returns the old item, which
says what to do: open the period's item (missing), re-base it on a changed budget
(`remaining = max - spent - reserved`, conditioned on the values it was computed
from), give back slots whose deadline has passed, or refuse with 429 `budget_exceeded`.

Holds are summed per minute, not kept per request: the item stays small (at most
about HOLD_S / 60 slots) however many requests are in flight or waiting to settle, so
every write of it costs one write unit and it can never outgrow DynamoDB's 400 KB.
Settlement subtracts each request's amount from its minute's slot; the spend function
removes slots that reached zero.

A slot's deadline is HOLD_S after its minute ends: longer than any request can run
(the API function's 900 s timeout) plus a margin for the spend event's delivery.
Whatever a slot still holds then belongs to requests that crashed before their spend
event was sent; the first reservation on that budget that would otherwise be refused
gives it back. A late settlement of a given-back slot charges its cost without
returning it again (gateway/billing/ledger.py), so nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.errors import BudgetExceededError
from gateway.spend.cost import format_usd
from gateway.spend.events import Hold
from gateway.spend.periods import period_of
from gateway.store import table
from gateway.store.dynamo import encode, encode_item, values

if TYPE_CHECKING:
    from gateway.store.dynamo import Item

HOLD_S = 1500  # 900 s function timeout + 10 min for the spend event to be applied
SLOT_S = 60
RETENTION_S = 90 * 86_400  # a finished period's item is kept this long (TTL) for reports


@dataclass(frozen=True, slots=True)
class Budget:
    """One level's budget settings (from its key, team or user record)."""

    scope: str  # "key", "team" or "user"
    entity_id: str
    max_micros: int | None
    soft_micros: int | None
    duration: str | None

    def hold(self, now: float, amount: int) -> Hold:
        period = period_of(self.duration, now)
        return Hold(
            scope=self.scope,
            entity_id=self.entity_id,
            period=period.id,
            amount_micros=amount,
            max_budget_micros=self.max_micros,
            soft_budget_micros=self.soft_micros,
            period_end=period.end,
            slot=slot_of(now) if amount > 0 else "",
        )


def slot_of(now: float) -> str:
    return str(int(now // SLOT_S))


def slot_expired(slot: str, now: float) -> bool:
    """Whether every request that reserved in `slot` has ended or died."""
    return (int(slot) + 1) * SLOT_S + HOLD_S <= now


def _key(hold: Hold) -> dict[str, Any]:
    return encode_item({"pk": table.budget_pk(hold.scope, hold.entity_id), "sk": hold.period})


def reservation(hold: Hold) -> dict[str, Any]:
    """The update that reserves `hold.amount_micros` (the admission's action for the level)."""
    return {
        "Key": _key(hold),
        "UpdateExpression": "SET remaining = remaining - :a, reserved = reserved + :a, "
        "holds.#slot = if_not_exists(holds.#slot, :zero) + :a",
        "ConditionExpression": "max_budget_micros = :max AND remaining >= :a",
        "ExpressionAttributeNames": {"#slot": hold.slot},
        "ExpressionAttributeValues": values(
            a=hold.amount_micros, max=hold.max_budget_micros, zero=0
        ),
    }


@dataclass(frozen=True, slots=True)
class Fix:
    """A write that makes a retry of the reservation meaningful (its condition may fail:
    another instance did the same first; the retry learns the new state either way)."""

    update: dict[str, Any]


def reserves(hold: Hold) -> bool:
    """Whether admission writes for this hold (a budget to take a positive amount from)."""
    return hold.max_budget_micros is not None and hold.amount_micros > 0


def precheck(hold: Hold, now: float) -> None:
    """Refuse at once, without a write, a request that can never fit the whole budget."""
    if hold.max_budget_micros is not None and hold.amount_micros > hold.max_budget_micros:
        raise _exceeded(hold, {}, now)


def diagnose(hold: Hold, old: Item | None, now: float) -> Fix | BudgetExceededError:
    """Why a reservation was refused, from the item as it was."""
    if old is None:
        return Fix(_open(hold))
    if old.get("max_budget_micros") != hold.max_budget_micros:
        return Fix(_rebase(hold, old))
    expired = {
        slot: int(amount)
        for slot, amount in (old.get("holds") or {}).items()
        if slot_expired(slot, now)
    }
    if expired:
        return Fix(_give_back(hold, expired))
    return _exceeded(hold, old, now)


def _period_attributes(hold: Hold) -> dict[str, Any]:
    named: dict[str, Any] = {}
    if hold.period_end is not None:
        named.update(pend=hold.period_end, exp=hold.period_end + RETENTION_S)
    return named


def _open(hold: Hold) -> dict[str, Any]:
    """The period's item, opened with the whole budget remaining."""
    start = int(hold.period.rpartition("@")[2]) if "@" in hold.period else 0
    named: dict[str, Any] = {
        "max": hold.max_budget_micros,
        "zero": 0,
        "empty": {},
        "pstart": start,
        **_period_attributes(hold),
    }
    update = (
        "SET max_budget_micros = :max, remaining = :max, reserved = :zero, spent = :zero, "
        "holds = :empty, period_start = :pstart"
    )
    if hold.period_end is not None:
        update += ", period_end = :pend, expires_at = :exp"
    return {
        "Key": _key(hold),
        "UpdateExpression": update,
        "ConditionExpression": "attribute_not_exists(pk)",
        "ExpressionAttributeValues": values(**named),
    }


def _rebase(hold: Hold, old: Item) -> dict[str, Any]:
    """A budget set or changed mid-period: what is left is the new budget minus what the
    period has spent and holds (an item that only tracked spend gets its holds map)."""
    spent, reserved = int(old.get("spent", 0)), int(old.get("reserved", 0))
    max_micros = hold.max_budget_micros or 0
    conditions = ["spent = :spent" if "spent" in old else "attribute_not_exists(spent)"]
    conditions.append(
        "reserved = :reserved" if "reserved" in old else "attribute_not_exists(reserved)"
    )
    named: dict[str, Any] = {
        "max": max_micros,
        "left": max_micros - spent - reserved,
        "spent": spent,
        "reserved": reserved,
        "zero": 0,
        "empty": {},
    }
    return {
        "Key": _key(hold),
        "UpdateExpression": "SET max_budget_micros = :max, remaining = :left, "
        "spent = if_not_exists(spent, :zero), reserved = if_not_exists(reserved, :zero), "
        "holds = if_not_exists(holds, :empty)",
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeValues": values(**named),
    }


def _give_back(hold: Hold, expired: dict[str, int]) -> dict[str, Any]:
    """Return what expired slots still hold: requests that can no longer be running (their
    sandbox died). Each slot is removed on the condition that it still holds what was
    read, so a settlement landing in between makes this write fail and be re-read."""
    names = {f"#h{i}": slot for i, slot in enumerate(expired)}
    amounts = {f":h{i}": amount for i, amount in enumerate(expired.values())}
    return {
        "Key": _key(hold),
        "UpdateExpression": "SET remaining = remaining + :t, reserved = reserved - :t REMOVE "
        + ", ".join(f"holds.{name}" for name in names),
        "ConditionExpression": " AND ".join(
            f"holds.{name} = {value}" for name, value in zip(names, amounts, strict=True)
        ),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values(t=sum(expired.values()))
        | {key: encode(amount) for key, amount in amounts.items()},
    }


def _exceeded(hold: Hold, old: Item, now: float) -> BudgetExceededError:
    spent = int(old.get("spent", 0)) + int(old.get("reserved", 0))
    max_micros = hold.max_budget_micros or 0
    headers = {}
    if hold.period_end is not None:
        headers["retry-after"] = str(max(1, hold.period_end - int(now)))
    return BudgetExceededError(
        f"Budget has been exceeded! {hold.scope.capitalize()} budget: current cost (spent and "
        f"reserved) {format_usd(spent)}, max budget {format_usd(max_micros)}, this request "
        f"may cost up to {format_usd(hold.amount_micros)}.",
        headers=headers,
    )
