"""The spend applier against the emulated table: exactly once, within DynamoDB's limits.

Expected totals are computed here independently of gateway/billing/ledger.py, from the
contract (/work/notes/spend-layout.md), and compared item by item with a scan.
test_spend_function.py imports the helpers below for the handler-level tests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pytest

from gateway.billing.alerts import AlertError, EventBridgeAlerts, SoftBudgetAlert
from gateway.billing.apply import Applier
from gateway.spend.events import Hold, SpendEvent
from gateway.store.dynamo import (
    Dynamo,
    DynamoUnavailableError,
    TransactionCanceledError,
    decode_item,
    encode_item,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conftest import GatewayTable

pytestmark = pytest.mark.anyio

START_MS = 1_764_590_400_000  # 2025-12-01T12:00:00Z
PERIOD = "1mo@1764547200"
PERIOD_END = 1_767_225_600
SLOT = str(START_MS // 60_000)  # the minute the holds were reserved in (long over)
HEALED_SLOT = str(START_MS // 60_000 - 30)  # a minute whose holds admission gave back
MAX = 10**12
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


# ---- arranging ------------------------------------------------------------------------------


def spend(rid: str, **fields: Any) -> SpendEvent:
    base: dict[str, Any] = {
        "request_id": rid,
        "start_ms": START_MS,
        "end_ms": START_MS + 800,
        "api_key": "h" * 64,
        "key_id": "k1",
        "team_id": "t1",
        "user_id": "u1",
        "model_group": "gpt-4o-mini",
        "model": "gpt-4o-mini",
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "spend_micros": 250,
    }
    base.update(fields)
    return SpendEvent(**base)


def team_hold(amount: int, team: str = "t1", **more: Any) -> Hold:
    more.setdefault("slot", SLOT if amount else "")
    return Hold("team", team, PERIOD, amount, max_budget_micros=MAX, period_end=PERIOD_END, **more)


def reserve(env: GatewayTable, hold: Hold, rids: Iterable[str], **attributes: Any) -> None:
    """The budget item as admission leaves it, with each rid's hold reserved in its slot
    (added to what earlier calls reserved on the same item)."""
    key = {"pk": f"BUDGET#{hold.scope}#{hold.entity_id}", "sk": hold.period}
    found = env.client.get_item(TableName=env.name, Key=encode_item(key)).get("Item")
    item = decode_item(found) if found else {**key, "reserved": 0, "spent": 0, "holds": {}}
    amount = hold.amount_micros * len(list(rids))
    item["holds"][hold.slot] = item["holds"].get(hold.slot, 0) + amount
    item["reserved"] += amount
    item.update(
        max_budget_micros=MAX, remaining=MAX - item["reserved"], period_end=PERIOD_END, **attributes
    )
    env.client.put_item(TableName=env.name, Item=encode_item(item))


class FakeAlerts:
    """Records alerts; fails the first `failures` sends as PutEvents would."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[SoftBudgetAlert] = []
        self.failures = failures

    async def send(self, alert: SoftBudgetAlert) -> None:
        if self.failures:
            self.failures -= 1
            raise AlertError("PutEvents failed: EndpointConnectionError")
        self.sent.append(alert)


class RecordingDynamo(Dynamo):
    """Keeps every TransactWriteItems payload; `conflicts` first calls are cancelled."""

    def __init__(self, table: str, conflicts: int = 0) -> None:
        super().__init__(table)
        self.transactions: list[list[dict[str, Any]]] = []
        self.conflicts = conflicts

    async def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        if operation == "TransactWriteItems":
            self.transactions.append(payload["TransactItems"])
            if self.conflicts:
                self.conflicts -= 1
                reasons = [{"Code": "TransactionConflict"}] * len(payload["TransactItems"])
                raise TransactionCanceledError(
                    "TransactionCanceledException", "conflict", {"CancellationReasons": reasons}
                )
        return await super().call(operation, payload)


# ---- what must hold afterwards ------------------------------------------------------------


def _day(start_ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(start_ms / 1000))


def expected_counters(events: Iterable[SpendEvent]) -> dict[tuple[str, str], dict[str, int]]:
    """Every aggregate and report row, summed over distinct events (per the contract)."""
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for e in {e.request_id: e for e in events}.values():
        day = _day(e.start_ms)
        keys = []
        for scope, entity in (("key", e.key_id), ("team", e.team_id), ("user", e.user_id)):
            if entity:
                keys += [
                    (f"SPENDAGG#{scope}#{entity}", day),
                    (f"SPENDAGG#{scope}#{entity}", "TOTAL"),
                ]
        keys.append((f"SPENDAGG#model#{e.model_group}", "TOTAL"))
        keys.append((f"SPENDDAY#{day}", f"T#{e.team_id or '-'}#{e.model_group}"))
        for tag in set(e.tags):
            keys += [(f"SPENDAGG#tag#{tag}", "TOTAL"), (f"SPENDDAY#{day}", f"G#{tag}")]
        for key in keys:
            row = rows[key]
            row["spend_micros"] += e.spend_micros
            row["requests"] += 1
            row["failures"] += e.status == "failure"
            row["cache_hits"] += e.cache_hit
            row["prompt_tokens"] += e.prompt_tokens
            row["completion_tokens"] += e.completion_tokens
            row["cached_tokens"] += e.cached_tokens
            row["reasoning_tokens"] += e.reasoning_tokens
    return dict(rows)


def items_by_prefix(env: GatewayTable, *prefixes: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["pk"], i["sk"]): i for i in env.items() if i["pk"].startswith(prefixes)}


def assert_counted_once(env: GatewayTable, events: Iterable[SpendEvent]) -> None:
    events = list(events)
    ledger = items_by_prefix(env, "SPEND#")
    assert sorted(i["request_id"] for i in ledger.values()) == sorted(
        {e.request_id for e in events}
    )
    counters = {
        key: {name: item[name] for name in COUNTERS}
        for key, item in items_by_prefix(env, "SPENDAGG#", "SPENDDAY#").items()
    }
    assert counters == expected_counters(events)


def assert_settled(env: GatewayTable, events: Iterable[SpendEvent]) -> None:
    """Every budget item: spent is the sum of costs, nothing reserved or held, and what
    remains is the budget less the costs (a tracking item without a budget goes negative)."""
    costs: dict[tuple[str, str], int] = defaultdict(int)
    for e in {e.request_id: e for e in events}.values():
        for hold in e.holds:
            costs[f"BUDGET#{hold.scope}#{hold.entity_id}", hold.period] += e.spend_micros
    budgets = items_by_prefix(env, "BUDGET#")
    assert set(budgets) == set(costs)
    for key, item in budgets.items():
        assert item["spent"] == costs[key], key
        assert item["reserved"] == 0, key
        assert item.get("holds", {}) == {}, key
        assert item["remaining"] == item.get("max_budget_micros", 0) - costs[key], key


# ---- tests ----------------------------------------------------------------------------------


async def test_a_batch_commits_once_and_redelivery_is_duplicates(
    gateway_table: GatewayTable,
) -> None:
    events = [spend(f"r{i}", tags=("prod",), spend_micros=100 + i) for i in range(5)]
    applier = Applier(Dynamo(gateway_table.name), alerts=FakeAlerts())
    first = await applier.apply([*events, events[0]])  # the same request twice in one batch
    assert first.applied == {e.request_id for e in events}
    again = await applier.apply(events)
    assert again.duplicates == {e.request_id for e in events}
    assert not again.applied
    assert not again.failed
    assert_counted_once(gateway_table, events)
    ledger = items_by_prefix(gateway_table, "SPEND#")[("SPEND#r3", "SPEND")]
    assert ledger["spend_micros"] == 103
    assert ledger["gsi4pk"] == "LOGS#KEY#" + "h" * 64


async def test_transactions_stay_within_limits_and_totals_are_exact(
    gateway_table: GatewayTable,
) -> None:
    one_key = [spend(f"one-{i}", spend_micros=i) for i in range(250)]
    mixed = [
        spend(
            f"mix-{i}",
            key_id=f"k{i % 30}",
            team_id=f"t{i % 6}",
            user_id=f"u{i % 11}",
            model_group=f"m{i % 4}",
            tags=tuple(f"g{j}" for j in range(i % 3)),
            status="failure" if i % 9 == 0 else "success",
            cache_hit=i % 13 == 0,
            spend_micros=1000 + i,
        )
        for i in range(150)
    ]
    db = RecordingDynamo(gateway_table.name)
    result = await Applier(db, alerts=FakeAlerts()).apply([*one_key, *mixed])
    assert len(result.applied) == 400
    assert not result.failed
    assert len(db.transactions) >= 5
    for actions in db.transactions:
        assert len(actions) <= 100
        keys = []
        for action in actions:
            body = action.get("Put") or action["Update"]
            item = decode_item(body.get("Item") or body["Key"])
            keys.append((item["pk"], item["sk"]))
        assert len(keys) == len(set(keys)), "an item twice in one transaction"
    assert_counted_once(gateway_table, [*one_key, *mixed])


async def test_settlement_returns_the_unused_hold(gateway_table: GatewayTable) -> None:
    hold = team_hold(5000)
    reserve(gateway_table, hold, ["a", "b"])
    await Applier(Dynamo(gateway_table.name), alerts=FakeAlerts()).apply(
        [spend("a", spend_micros=1200, holds=(hold,)), spend("b", spend_micros=300, holds=(hold,))]
    )
    (item,) = items_by_prefix(gateway_table, "BUDGET#").values()
    assert item["remaining"] == MAX - 1500  # 2 x 5000 reserved, (5000 - cost) returned each
    assert item["reserved"] == 0
    assert item["spent"] == 1500
    assert item["holds"] == {}
    assert item["period_start"] == 1764547200
    assert item["expires_at"] == PERIOD_END + 90 * 86400


async def test_a_healed_hold_is_charged_only(gateway_table: GatewayTable) -> None:
    hold = team_hold(5000)
    late = team_hold(5000, slot=HEALED_SLOT)  # its slot was given back by admission
    reserve(gateway_table, hold, ["present"])
    result = await Applier(Dynamo(gateway_table.name), alerts=FakeAlerts()).apply(
        [
            spend("present", spend_micros=700, holds=(hold,)),
            spend("late", spend_micros=400, holds=(late,)),
        ]
    )
    assert result.applied == {"present", "late"}
    (item,) = items_by_prefix(gateway_table, "BUDGET#").values()
    assert item["spent"] == 1100
    assert item["reserved"] == 0
    assert item["remaining"] == MAX - 5000 + (5000 - 700) - 400
    assert item["holds"] == {}


async def test_a_hold_of_nothing_creates_the_tracking_item(gateway_table: GatewayTable) -> None:
    hold = Hold("user", "u1", "all", 0, soft_budget_micros=10**9)
    await Applier(Dynamo(gateway_table.name), alerts=FakeAlerts()).apply(
        [spend("a", spend_micros=90, holds=(hold,))]
    )
    (item,) = items_by_prefix(gateway_table, "BUDGET#").values()
    assert (item["pk"], item["sk"]) == ("BUDGET#user#u1", "all")
    assert (item["spent"], item["remaining"], item["reserved"]) == (90, -90, 0)
    assert "expires_at" not in item  # the unbounded period never expires
    assert "max_budget_micros" not in item


async def test_soft_budget_crossing_alerts_once_per_period(gateway_table: GatewayTable) -> None:
    hold = team_hold(1000, soft_budget_micros=1500)
    rids = [f"r{i}" for i in range(6)]
    reserve(gateway_table, hold, rids)
    events = [spend(rid, spend_micros=500, holds=(hold,)) for rid in rids]
    sender = FakeAlerts()
    applier = Applier(Dynamo(gateway_table.name), alerts=sender)
    await applier.apply(events[:2])  # 1000 spent: under the soft budget
    assert sender.sent == []
    await applier.apply(events[:4])  # redelivery plus two more: 2000 spent, crossed
    await applier.apply(events[:4])  # redelivered again
    await applier.apply(events[4:])  # 3000 spent: still the same period
    assert len(sender.sent) == 1
    alert = sender.sent[0]
    assert (alert.scope, alert.entity_id, alert.period) == ("team", "t1", PERIOD)
    assert (alert.spent_micros, alert.soft_budget_micros, alert.max_budget_micros) == (
        2000,
        1500,
        MAX,
    )
    assert alert.period_end == PERIOD_END


async def test_a_failed_alert_fails_its_messages_and_is_sent_on_redelivery(
    gateway_table: GatewayTable,
) -> None:
    hold = team_hold(1000, soft_budget_micros=100)
    reserve(gateway_table, hold, ["a", "b"])
    events = [spend("a", holds=(hold,)), spend("b", holds=(hold,)), spend("c")]
    sender = FakeAlerts(failures=1)
    applier = Applier(Dynamo(gateway_table.name), alerts=sender)
    first = await applier.apply(events)
    assert set(first.failed) == {"a", "b"}  # "c" has no soft budget: it stands
    assert first.applied == {"c"}
    (item,) = items_by_prefix(gateway_table, "BUDGET#").values()
    assert "soft_alerted" not in item  # taken back
    second = await applier.apply(events[:2])
    assert second.duplicates == {"a", "b"}
    assert not second.failed
    assert len(sender.sent) == 1
    assert_counted_once(gateway_table, events)


async def test_an_outage_fails_the_whole_batch_and_writes_nothing(
    gateway_table: GatewayTable,
) -> None:
    events = [spend(f"r{i}", key_id=f"k{i % 3}") for i in range(120)]
    applier = Applier(Dynamo(gateway_table.name), alerts=FakeAlerts())
    gateway_table.emulation.inject("TransactWriteItems", "unavailable")
    result = await applier.apply(events)
    assert set(result.failed) == {e.request_id for e in events}
    assert all(isinstance(e, DynamoUnavailableError) for e in result.failed.values())
    assert items_by_prefix(gateway_table, "SPEND") == {}
    gateway_table.emulation.faults.clear()
    retried = await applier.apply(events)
    assert len(retried.applied) == 120
    assert_counted_once(gateway_table, events)


async def test_a_lost_response_is_recognised_as_applied(gateway_table: GatewayTable) -> None:
    hold = team_hold(900)
    events = [spend(f"r{i}", holds=(hold,)) for i in range(10)]
    reserve(gateway_table, hold, [e.request_id for e in events])
    gateway_table.emulation.inject("TransactWriteItems", "lost", times=1)
    result = await Applier(Dynamo(gateway_table.name), alerts=FakeAlerts()).apply(events)
    assert not result.failed
    assert result.duplicates == {e.request_id for e in events}  # the retry found the ledger
    assert gateway_table.emulation.calls.count("TransactWriteItems") == 2
    assert_counted_once(gateway_table, events)
    assert_settled(gateway_table, events)


async def test_conflicts_are_retried(gateway_table: GatewayTable) -> None:
    db = RecordingDynamo(gateway_table.name, conflicts=2)
    events = [spend("a"), spend("b")]
    result = await Applier(db, alerts=FakeAlerts()).apply(events)
    assert result.applied == {"a", "b"}
    assert len(db.transactions) == 3
    assert_counted_once(gateway_table, events)


async def test_endless_conflicts_fail_after_bounded_attempts(gateway_table: GatewayTable) -> None:
    db = RecordingDynamo(gateway_table.name, conflicts=1000)
    result = await Applier(db, alerts=FakeAlerts(), attempts=3).apply([spend("a")])
    assert set(result.failed) == {"a"}
    assert len(db.transactions) == 3
    assert items_by_prefix(gateway_table, "SPEND") == {}


async def test_eventbridge_alerts_go_to_the_bus(
    gateway_table: GatewayTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_EVENT_BUS", "default")
    alert = SoftBudgetAlert("key", "k1", PERIOD, PERIOD_END, 2000, 1500, None, at=time.time())
    await EventBridgeAlerts().send(alert)  # the emulation's default bus accepts it
    assert gateway_table.emulation.calls[-1] == "PutEvents"
    gateway_table.emulation.inject("PutEvents", "unavailable")
    with pytest.raises(AlertError):
        await EventBridgeAlerts().send(alert)


async def test_the_emulation_undoes_a_transaction_that_fails_midway(
    gateway_table: GatewayTable,
) -> None:
    # gateway/local/emulation.py replaces moto's whole-table rollback by item snapshots:
    # a transaction whose conditions pass but whose last action fails as it is applied
    # (ADD to a string) must leave the items of the actions before it as they were.
    env = gateway_table
    for item in ({"pk": "A", "sk": "1", "n": 1}, {"pk": "C", "sk": "1", "s": "x"}):
        env.client.put_item(TableName=env.name, Item=encode_item(item))
    before = {(i["pk"], i["sk"]): i for i in env.items()}
    actions = [
        {
            "Update": {
                "TableName": env.name,
                "Key": encode_item({"pk": "A", "sk": "1"}),
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Put": {"TableName": env.name, "Item": encode_item({"pk": "B", "sk": "1", "s": "x"})}},
        {
            "Update": {
                "TableName": env.name,
                "Key": encode_item({"pk": "C", "sk": "1"}),
                "UpdateExpression": "ADD s :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]
    with pytest.raises(env.client.exceptions.ClientError):
        env.client.transact_write_items(TransactItems=actions)
    assert {(i["pk"], i["sk"]): i for i in env.items()} == before


async def test_an_emptied_slot_is_removed_and_a_busy_one_kept(gateway_table: GatewayTable) -> None:
    hold = team_hold(5000)  # a minute that is over
    reserve(gateway_table, hold, ["a", "b"])
    applier = Applier(Dynamo(gateway_table.name), alerts=FakeAlerts())
    await applier.apply([spend("a", spend_micros=100, holds=(hold,))])
    (item,) = items_by_prefix(gateway_table, "BUDGET#").values()
    assert item["holds"] == {SLOT: 5000}  # "b" is still running
    await applier.apply([spend("b", spend_micros=100, holds=(hold,))])
    (item,) = items_by_prefix(gateway_table, "BUDGET#").values()
    assert item["holds"] == {}
    assert (item["reserved"], item["spent"]) == (0, 200)
