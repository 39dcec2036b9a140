"""Spend events and what they write, without I/O: the wire form, the ledger item, the
counter rows, merged transactions within DynamoDB's limits, and cancellation reasons."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from gateway.billing import alerts
from gateway.billing.apply import pack
from gateway.billing.ledger import MAX_ACTIONS, Transaction, counter_rows, ledger_item, touched
from gateway.spend.events import Hold, PoisonEventError, SpendEvent
from gateway.store import table
from gateway.store.dynamo import decode_item

START_MS = 1_764_590_400_000  # 2025-12-01T12:00:00Z
DAY = "2025-12-01"
PERIOD = "1mo@1764547200"


def event(rid: str = "r1", **fields: Any) -> SpendEvent:
    base: dict[str, Any] = {
        "request_id": rid,
        "start_ms": START_MS,
        "end_ms": START_MS + 1500,
        "api_key": "a" * 64,
        "key_id": "k1",
        "team_id": "t1",
        "user_id": "u1",
        "model_group": "gpt-4o-mini",
        "requested_model": "gpt-4o-mini",
        "model": "gpt-4o-mini-2024-07-18",
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "spend_micros": 150,
    }
    base.update(fields)
    return SpendEvent(**base)


def hold(scope: str = "team", entity: str = "t1", amount: int = 1000, **more: Any) -> Hold:
    more.setdefault("slot", "29409840" if amount else "")
    return Hold(scope=scope, entity_id=entity, period=PERIOD, amount_micros=amount, **more)


# ---- the wire form --------------------------------------------------------------------------


def test_an_event_survives_the_queue() -> None:
    original = event(tags=("a", "b"), holds=(hold(soft_budget_micros=5, period_end=1_767_225_600),))
    assert SpendEvent.parse(original.dumps()) == original


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"v": 2, "request_id": "r", "start_ms": 1, "end_ms": 2}',
        b'{"v": 1, "request_id": "r", "start_ms": 1, "end_ms": 2, "surprise": 1}',
        b'{"v": 1, "request_id": "r", "start_ms": "1", "end_ms": 2}',
        b'{"v": 1, "request_id": "r", "start_ms": true, "end_ms": 2}',
        b'{"v": 1, "request_id": "", "start_ms": 1, "end_ms": 2}',
        b'{"v": 1, "request_id": "r", "start_ms": 1, "end_ms": 2, "spend_micros": -1}',
        b'{"v": 1, "request_id": "r", "start_ms": 1, "end_ms": 2, "holds": [1]}',
    ],
)
def test_anything_else_is_poison(body: bytes) -> None:
    with pytest.raises(PoisonEventError):
        SpendEvent.parse(body)


MISSING_FIELDS = [
    b'{"v": 1, "start_ms": 1, "end_ms": 2}',
    b'{"v": 1, "request_id": "r", "start_ms": 1, "end_ms": 2, "holds": [{"scope": "key"}]}',
]


@pytest.mark.parametrize("body", MISSING_FIELDS)
def test_missing_fields_are_poison_too(body: bytes) -> None:
    with pytest.raises(PoisonEventError):
        SpendEvent.parse(body)


# ---- the ledger item and counter rows --------------------------------------------------------


def test_the_ledger_item_is_the_event_with_its_day_and_index_keys() -> None:
    item = ledger_item(event(tags=("x",), holds=(hold(),), error_code=None))
    sort = f"{START_MS:013d}#r1"
    assert item["pk"] == table.ledger_pk("r1")
    assert item["sk"] == table.LEDGER_SK
    assert item["day"] == DAY
    assert (item["gsi1pk"], item["gsi1sk"]) == (f"LOGS#{DAY}", sort)
    assert (item["gsi2pk"], item["gsi3pk"], item["gsi4pk"]) == (
        "LOGS#TEAM#t1",
        "LOGS#USER#u1",
        "LOGS#KEY#" + "a" * 64,
    )
    assert item["gsi2sk"] == item["gsi3sk"] == item["gsi4sk"] == sort
    assert item["tags"] == ["x"]
    assert "holds" not in item
    assert "error_code" not in item  # None is omitted
    assert item["spend_micros"] == 150


def test_the_master_key_and_teamless_requests_stay_out_of_those_indexes() -> None:
    item = ledger_item(event(api_key="", key_id="", team_id=None, user_id=None))
    assert not {"gsi2pk", "gsi3pk", "gsi4pk"} & set(item)
    assert item["gsi1pk"] == f"LOGS#{DAY}"


def test_counter_rows_per_entity_day_and_report() -> None:
    rows = counter_rows(event(tags=("prod", "prod", "eu")))
    assert set(rows) == {
        ("SPENDAGG#key#k1", DAY),
        ("SPENDAGG#key#k1", "TOTAL"),
        ("SPENDAGG#team#t1", DAY),
        ("SPENDAGG#team#t1", "TOTAL"),
        ("SPENDAGG#user#u1", DAY),
        ("SPENDAGG#user#u1", "TOTAL"),
        ("SPENDAGG#model#gpt-4o-mini", "TOTAL"),
        ("SPENDAGG#tag#prod", "TOTAL"),
        ("SPENDAGG#tag#eu", "TOTAL"),
        (f"SPENDDAY#{DAY}", "T#t1#gpt-4o-mini"),
        (f"SPENDDAY#{DAY}", "G#prod"),
        (f"SPENDDAY#{DAY}", "G#eu"),
    }
    assert rows["SPENDAGG#key#k1", DAY] == {"scope": "key", "entity_id": "k1", "day": DAY}
    assert rows["SPENDAGG#tag#eu", "TOTAL"] == {"scope": "tag", "entity_id": "eu"}


def test_a_request_without_team_reports_under_dash() -> None:
    rows = counter_rows(event(team_id=None, key_id=""))
    assert (f"SPENDDAY#{DAY}", "T#-#gpt-4o-mini") in rows
    assert not any(pk.startswith(("SPENDAGG#team#", "SPENDAGG#key#")) for pk, _ in rows)


# ---- transactions ---------------------------------------------------------------------------


def _keys(action: dict[str, Any]) -> tuple[str, str]:
    body = action.get("Put") or action["Update"]
    raw = body.get("Item") or body["Key"]
    item = decode_item(raw)
    return item["pk"], item["sk"]


def test_counters_of_one_key_merge_into_one_update_per_item() -> None:
    events = [
        event(f"r{i}", spend_micros=i, status="failure" if i == 0 else "success") for i in range(3)
    ]
    actions = Transaction.of("t", events, ()).actions()
    assert len(actions) == 3 + len(touched(events[0]))
    keys = [_keys(a) for a in actions]
    assert len(keys) == len(set(keys))
    (team_day,) = [a for a in actions if _keys(a) == ("SPENDAGG#team#t1", DAY)]
    update = team_day["Update"]
    added = {
        update["ExpressionAttributeNames"][name]: int(
            update["ExpressionAttributeValues"][value]["N"]
        )
        for name, value in re.findall(
            r"(#n\d+) (:v\d+)", update["UpdateExpression"].split(" SET ")[0]
        )
    }
    assert added["spend_micros"] == 0 + 1 + 2
    assert added["requests"] == 3
    assert added["failures"] == 1
    assert added["prompt_tokens"] == 30


@pytest.mark.parametrize(
    "events",
    [
        [event(f"r{i}") for i in range(250)],
        [
            event(f"r{i}", key_id=f"k{i % 30}", team_id=f"t{i % 7}", tags=(f"g{i % 5}",))
            for i in range(300)
        ],
    ],
    ids=["one-key", "thirty-keys"],
)
def test_packing_respects_the_transaction_limits(events: list[SpendEvent]) -> None:
    batches = pack(events)
    assert sorted(e.request_id for b in batches for e in b) == sorted(e.request_id for e in events)
    for batch in batches:
        actions = Transaction.of("t", batch, ()).actions()
        assert len(actions) <= MAX_ACTIONS
        keys = [_keys(a) for a in actions]
        assert len(keys) == len(set(keys))


def test_one_key_fills_transactions_nearly_full() -> None:
    batches = pack([event(f"r{i}") for i in range(250)])
    per_event = len(touched(event()))
    assert len(batches) == 3  # (100 - 9 shared rows) = 91 events a transaction
    assert len(batches[0]) == MAX_ACTIONS - per_event


def _expressions(update: dict[str, Any]) -> str:
    return update["UpdateExpression"] + " " + update.get("ConditionExpression", "")


def _used(update: dict[str, Any]) -> None:
    """DynamoDB refuses placeholders that no expression uses, and any over 4 KB."""
    text = _expressions(update)
    for placeholder in [*update["ExpressionAttributeNames"], *update["ExpressionAttributeValues"]]:
        assert re.search(re.escape(placeholder) + r"(?!\d)", text), placeholder
    assert len(update["UpdateExpression"]) <= 4096
    assert len(update.get("ConditionExpression", "")) <= 4096


def test_settlement_returns_present_holds_and_charges_the_rest() -> None:
    events = [
        event("present", spend_micros=300, holds=(hold(amount=1000),)),
        event("healed", spend_micros=200, holds=(hold(amount=1000),)),
        event("tracking", spend_micros=100, holds=(hold(amount=0),)),
    ]
    txn = Transaction.of("t", events, {("healed", (table.budget_pk("team", "t1"), PERIOD))})
    (settlement,) = txn.settlements.values()
    assert settlement.returned == {"present": (1000, "29409840")}
    assert settlement.slots == {"29409840": 1000}
    assert settlement.cost == 600
    (update,) = [a["Update"] for a in txn.actions() if _keys(a)[0].startswith("BUDGET#")]
    _used(update)
    names = update["ExpressionAttributeNames"]
    assert [names[p] for p in re.findall(r"#n\d+", update["ConditionExpression"])] == [
        "holds",
        "29409840",
    ]
    values = {k: decode_item({"x": v})["x"] for k, v in update["ExpressionAttributeValues"].items()}
    assert 1000 - 600 in values.values()  # remaining: returned amount minus every cost
    assert 600 in values.values()  # spent


def test_a_full_transaction_of_holds_on_one_budget_stays_within_expression_limits() -> None:
    events = [event(f"request-{i:05d}-{'x' * 40}", holds=(hold(),)) for i in range(MAX_ACTIONS)]
    (batch, *_) = pack(events)
    for action in Transaction.of("t", batch, ()).actions():
        if "Update" in action:
            _used(action["Update"])


def test_every_action_returns_the_old_item_on_a_failed_condition() -> None:
    actions = Transaction.of("t", [event(holds=(hold(),))], ()).actions()
    for action in actions:
        body = action.get("Put") or action["Update"]
        assert body["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert actions[0]["Put"]["ConditionExpression"] == "attribute_not_exists(pk)"


def test_cancellation_reasons_name_duplicates_healed_holds_and_conflicts() -> None:
    budget = (table.budget_pk("team", "t1"), PERIOD)
    events = [
        event("dup", holds=(hold(),)),
        event("late", holds=(hold(slot="29409000"),)),  # a slot admission gave back
        event("ok", holds=(hold(),)),
    ]
    txn = Transaction.of("t", events, ())
    targets = txn.targets()
    reasons: list[tuple[str, dict[str, Any] | None]] = [("None", None)] * len(targets)
    reasons[0] = ("ConditionalCheckFailed", {"pk": "SPEND#dup"})
    budget_index = next(i for i, t in enumerate(targets) if t.key == budget)
    reasons[budget_index] = ("ConditionalCheckFailed", {"holds": {"29409840": 2000}})
    verdict = txn.read(reasons)
    assert verdict.duplicates == {"dup"}
    assert verdict.healed == {("late", budget)}  # "dup" is gone because it was applied
    assert not verdict.retry
    assert verdict.invalid is None
    conflict = txn.read([("TransactionConflict", None)] + [("None", None)] * (len(targets) - 1))
    assert conflict.retry
    assert txn.read([("ValidationError", None)]).invalid


def test_soft_budget_watches_group_holds_by_budget_item() -> None:
    soft = hold(soft_budget_micros=500)
    watches = alerts.watches(
        [event("a", holds=(soft,)), event("b", holds=(soft, hold("key", "k1"))), event("c")]
    )
    assert [(w.key, w.request_ids) for w in watches] == [
        ((table.budget_pk("team", "t1"), PERIOD), frozenset({"a", "b"}))
    ]


def test_the_alert_detail_is_the_contract() -> None:
    alert = alerts.SoftBudgetAlert("team", "t1", PERIOD, 1_767_225_600, 600, 500, 1000, at=1.0)
    assert orjson.loads(orjson.dumps(alert.detail())) == {
        "scope": "team",
        "entity_id": "t1",
        "period": PERIOD,
        "period_end": 1_767_225_600,
        "spent_micros": 600,
        "soft_budget_micros": 500,
        "max_budget_micros": 1000,
    }
