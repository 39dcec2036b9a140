"""Budget reservations on the shared table: atomic across levels, healing, periods.

These drive the limiter directly with an injected clock (the HTTP path has its own
tests in test_budgets.py); the emulation applies one call at a time, as DynamoDB
applies each conditional write atomically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from gateway.errors import BudgetExceededError
from gateway.schemas.records import Limits
from gateway.spend.periods import period_of
from gateway.store import budgets, table
from gateway.store.budgets import Budget
from gateway.store.limits import Level, Limiter

if TYPE_CHECKING:
    from conftest import GatewayTable

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(env: GatewayTable, clock: Clock) -> Limiter:
    from gateway.http.dependencies import table as gateway_table

    db = gateway_table()
    assert db is not None
    return Limiter(db, clock=clock)


def item(env: GatewayTable, budget: Budget, now: float) -> dict[str, Any]:
    from gateway.store.dynamo import decode_item, encode_item

    key = {
        "pk": table.budget_pk(budget.scope, budget.entity_id),
        "sk": period_of(budget.duration, now).id,
    }
    found = env.client.get_item(TableName=env.name, Key=encode_item(key)).get("Item")
    return decode_item(found) if found else {}


async def reserve(lim: Limiter, rid: str, amount: int, *levels: Budget) -> list[Any]:
    holds = [level.hold(lim.clock(), amount) for level in levels]
    admission = await lim.admit([], rid, holds)
    return list(admission.holds)


async def test_a_reservation_takes_the_worst_case_from_the_remaining_allowance(
    gateway_table: GatewayTable,
) -> None:
    clock = Clock(NOW)
    lim = limiter(gateway_table, clock)
    key = Budget("key", "k1", 100_000, None, "1mo")
    holds = await reserve(lim, "r1", 30_000, key)
    assert holds[0].amount_micros == 30_000
    stored = item(gateway_table, key, NOW)
    assert stored["remaining"] == 70_000
    assert stored["reserved"] == 30_000
    assert stored["spent"] == 0
    assert stored["holds"] == {budgets.slot_of(NOW): 30_000}  # summed per minute
    assert stored["period_end"] == period_of("1mo", NOW).end


async def test_over_budget_is_refused_with_litellms_error_and_changes_nothing(
    gateway_table: GatewayTable,
) -> None:
    lim = limiter(gateway_table, Clock(NOW))
    key = Budget("key", "k1", 50_000, None, "1d")
    await reserve(lim, "r1", 30_000, key)
    with pytest.raises(BudgetExceededError) as refused:
        await reserve(lim, "r2", 30_000, key)
    error = refused.value
    assert error.status == 429
    assert error.body()["error"]["type"] == "budget_exceeded"
    assert str(error.body()["error"]["message"]).startswith("Budget has been exceeded!")
    assert 1 <= int(error.headers["retry-after"]) <= 86_400
    assert item(gateway_table, key, NOW)["remaining"] == 20_000


async def test_a_request_larger_than_the_whole_budget_is_refused_without_a_write(
    gateway_table: GatewayTable,
) -> None:
    lim = limiter(gateway_table, Clock(NOW))
    gateway_table.emulation.calls.clear()
    with pytest.raises(BudgetExceededError):
        await reserve(lim, "r1", 2_000_000, Budget("key", "k1", 1_000_000, None, None))
    assert gateway_table.emulation.calls == []


async def test_every_level_is_reserved_in_one_write_or_none(gateway_table: GatewayTable) -> None:
    lim = limiter(gateway_table, Clock(NOW))
    key = Budget("key", "k1", 1_000_000, None, None)
    team = Budget("team", "t1", 40_000, None, "1mo")
    user = Budget("user", "u1", 1_000_000, None, None)
    await reserve(lim, "r1", 30_000, key, team, user)
    gateway_table.emulation.calls.clear()
    with pytest.raises(BudgetExceededError, match="Team budget"):
        await reserve(lim, "r2", 30_000, key, team, user)
    assert gateway_table.emulation.calls == ["TransactWriteItems"]
    # the refusal by the team took nothing from the key or the user
    assert item(gateway_table, key, NOW)["remaining"] == 970_000
    assert item(gateway_table, user, NOW)["remaining"] == 970_000


async def test_rate_limits_and_budgets_share_one_write(gateway_table: GatewayTable) -> None:
    lim = limiter(gateway_table, Clock(NOW))
    key = Budget("key", "k1", 1_000_000, None, None)
    level = Level("key", "k1", Limits(rpm_limit=10))
    await lim.admit([level], "r0", [key.hold(NOW, 1_000)])  # creates both items
    gateway_table.emulation.calls.clear()
    admission = await lim.admit([level], "r1", [key.hold(NOW, 1_000)])
    assert gateway_table.emulation.calls == ["TransactWriteItems"]
    # a transaction returns no counts: the limit is known, what remains is not
    assert admission.headers["x-ratelimit-limit-requests"] == "10"


async def test_a_crashed_requests_hold_is_given_back_after_the_bound(
    gateway_table: GatewayTable,
) -> None:
    clock = Clock(NOW)
    lim = limiter(gateway_table, clock)
    key = Budget("key", "k1", 50_000, None, None)
    await reserve(lim, "crashed", 40_000, key)  # never settled: its sandbox died
    minute_end = (NOW // 60 + 1) * 60
    clock.now = minute_end + budgets.HOLD_S - 1
    with pytest.raises(BudgetExceededError):
        await reserve(lim, "r2", 40_000, key)
    clock.now = minute_end + budgets.HOLD_S
    await reserve(lim, "r2", 40_000, key)
    stored = item(gateway_table, key, NOW)
    assert stored["holds"] == {budgets.slot_of(clock.now): 40_000}
    assert (stored["remaining"], stored["reserved"]) == (10_000, 40_000)


async def test_a_new_period_starts_exactly_on_time(gateway_table: GatewayTable) -> None:
    period = period_of("1d", NOW)
    assert period.end is not None
    clock = Clock(period.end - 0.5)
    lim = limiter(gateway_table, clock)
    key = Budget("key", "k1", 50_000, None, "1d")
    await reserve(lim, "r1", 50_000, key)
    with pytest.raises(BudgetExceededError):
        await reserve(lim, "r2", 1, key)
    clock.now = period.end
    await reserve(lim, "r2", 50_000, key)
    assert item(gateway_table, key, period.end)["remaining"] == 0


async def test_a_changed_budget_is_rebased_on_what_the_period_spent_and_holds(
    gateway_table: GatewayTable,
) -> None:
    lim = limiter(gateway_table, Clock(NOW))
    await reserve(lim, "r1", 30_000, Budget("key", "k1", 50_000, None, None))
    raised = Budget("key", "k1", 100_000, None, None)
    await reserve(lim, "r2", 60_000, raised)
    stored = item(gateway_table, raised, NOW)
    assert stored["max_budget_micros"] == 100_000
    assert (stored["remaining"], stored["reserved"]) == (10_000, 90_000)
    lowered = Budget("key", "k1", 80_000, None, None)
    with pytest.raises(BudgetExceededError):
        await reserve(lim, "r3", 1, lowered)
    assert item(gateway_table, lowered, NOW)["remaining"] == -10_000


async def test_a_zero_amount_or_a_soft_budget_alone_writes_nothing(
    gateway_table: GatewayTable,
) -> None:
    lim = limiter(gateway_table, Clock(NOW))
    gateway_table.emulation.calls.clear()
    holds = await reserve(lim, "r1", 0, Budget("key", "k1", 10, None, None))
    soft = await lim.admit([], "r2", [Budget("team", "t", None, 5, "1mo").hold(NOW, 0)])
    assert gateway_table.emulation.calls == []
    assert holds[0].amount_micros == 0
    assert holds[0].slot == ""
    assert soft.holds[0].soft_budget_micros == 5


async def test_many_requests_in_flight_keep_the_item_small(gateway_table: GatewayTable) -> None:
    clock = Clock(NOW)
    lim = limiter(gateway_table, clock)
    key = Budget("key", "k1", 10**12, None, None)
    for i in range(300):
        clock.now = NOW + i  # five minutes of reservations, none settled yet
        await reserve(lim, f"r{i}", 1_000, key)
    stored = item(gateway_table, key, NOW)
    assert len(stored["holds"]) == 5
    assert sum(stored["holds"].values()) == stored["reserved"] == 300_000
