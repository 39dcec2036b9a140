"""The router's shared state: deployment cooldowns and usage, across app instances.

Each `Cooldowns` / `DeploymentUsage` is one app instance (one Lambda sandbox) with its
own cache; instances share the table on the AWS emulation. Clocks are injected, so a
test never straddles a minute by accident. The checks that do not need a second
instance run against the table and against memory (`db=None`), which must agree.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from gateway.router.cooldowns import MAX_COOLDOWN_S, Cooldowns, cooldown_pk
from gateway.router.usage import LEASE_S, PRUNE_AT, DeploymentUsage, Usage, usage_pk

if TYPE_CHECKING:
    from conftest import GatewayTable
    from gateway.store.dynamo import Dynamo

pytestmark = pytest.mark.anyio

WINDOW_START = 1_800_000_000 - 1_800_000_000 % 60  # a minute boundary
FAILS = {"allowed_fails": 2, "cooldown_s": 5.0}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def shared_table() -> Dynamo:
    from gateway.http.dependencies import table

    db = table()
    assert db is not None
    return db


@pytest.fixture(params=["table", "memory"])
def db(request: pytest.FixtureRequest) -> Dynamo | None:
    """The table on the emulation, or none (each instance keeps its state in memory)."""
    if request.param == "memory":
        return None
    request.getfixturevalue("gateway_table")
    return shared_table()


@pytest.fixture
def table(gateway_table: GatewayTable) -> Dynamo:
    return shared_table()


def stored(gateway_table: GatewayTable, pk: str) -> dict[str, Any]:
    (item,) = [item for item in gateway_table.items() if item["pk"] == pk]
    return item


# ---- cooldowns on one instance: the table and memory agree ------------------------------


async def test_allowed_fails_are_counted_in_the_minute(db: Dynamo | None) -> None:
    clock = Clock(WINDOW_START + 10)
    cooldowns = Cooldowns(db, clock=clock)
    assert await cooldowns.record_failure("a", **FAILS) is None
    assert await cooldowns.record_failure("a", **FAILS) is None
    assert await cooldowns.record_failure("b", **FAILS) is None  # counted apart
    assert await cooldowns.cooling(["a", "b"]) == {}
    assert await cooldowns.record_failure("a", **FAILS) == WINDOW_START + 15  # the third
    assert await cooldowns.cooling(["a", "b"]) == {"a": WINDOW_START + 15}


async def test_a_new_minute_starts_the_count_again(db: Dynamo | None) -> None:
    clock = Clock(WINDOW_START + 58)
    cooldowns = Cooldowns(db, clock=clock)
    for _ in range(2):
        assert await cooldowns.record_failure("a", **FAILS) is None
    clock.now = WINDOW_START + 61
    for _ in range(2):
        assert await cooldowns.record_failure("a", **FAILS) is None
    assert await cooldowns.cooling(["a"]) == {}
    assert await cooldowns.record_failure("a", **FAILS) == WINDOW_START + 66


@pytest.mark.parametrize(("retry_after", "cools_for"), [(30.0, 30.0), (2.0, 5.0), (None, 5.0)])
async def test_a_429_with_retry_after_cools_at_once(
    db: Dynamo | None, retry_after: float | None, cools_for: float
) -> None:
    clock = Clock(WINDOW_START + 10.25)
    cooldowns = Cooldowns(db, clock=clock)
    deadline = await cooldowns.record_failure(
        "a", allowed_fails=3, cooldown_s=5.0, retry_after_s=retry_after, immediate=True
    )
    assert deadline == WINDOW_START + 10.25 + cools_for
    assert await cooldowns.cooling(["a"]) == {"a": deadline}


async def test_an_absurd_retry_after_is_capped(db: Dynamo | None) -> None:
    cooldowns = Cooldowns(db, clock=Clock(WINDOW_START))
    deadline = await cooldowns.record_failure(
        "a", allowed_fails=3, cooldown_s=5.0, retry_after_s=30 * 86_400.0, immediate=True
    )
    assert deadline == WINDOW_START + MAX_COOLDOWN_S


async def test_a_deadline_is_never_shortened(db: Dynamo | None) -> None:
    clock = Clock(WINDOW_START + 10)
    cooldowns = Cooldowns(db, clock=clock, cache_s=0)
    long = await cooldowns.record_failure(
        "a", allowed_fails=3, cooldown_s=5.0, retry_after_s=60.0, immediate=True
    )
    clock.now += 1
    later = await cooldowns.record_failure("a", allowed_fails=3, cooldown_s=5.0, immediate=True)
    assert later == long == WINDOW_START + 70
    assert await cooldowns.cooling(["a"]) == {"a": WINDOW_START + 70}


async def test_an_expired_cooldown_is_not_reported(db: Dynamo | None) -> None:
    clock = Clock(WINDOW_START + 10)
    cooldowns = Cooldowns(db, clock=clock, cache_s=0)
    await cooldowns.record_failure("a", allowed_fails=3, cooldown_s=5.0, immediate=True)
    clock.now = WINDOW_START + 15  # the deadline itself: no longer cooling
    assert await cooldowns.cooling(["a"]) == {}
    assert await Cooldowns(db, clock=clock).cooling(["a"]) == {}


# ---- cooldowns shared through the table --------------------------------------------------


async def test_instances_see_each_others_cooldowns_once_their_cache_expires(
    table: Dynamo, gateway_table: GatewayTable
) -> None:
    clock_a, clock_b = Clock(WINDOW_START + 10), Clock(WINDOW_START + 10.5)
    first = Cooldowns(table, clock=clock_a, cache_s=1.0)
    second = Cooldowns(table, clock=clock_b, cache_s=1.0)
    assert await first.cooling(["a", "b"]) == {}  # read and cached
    assert await second.record_failure("a", **FAILS) is None
    assert await first.record_failure("a", **FAILS) is None
    deadline = await second.record_failure("a", **FAILS)  # the third in the minute, anywhere
    assert deadline == WINDOW_START + 15.5
    clock_a.now = WINDOW_START + 10.9
    assert await first.cooling(["a", "b"]) == {}  # its cache is still warm
    clock_a.now = WINDOW_START + 11
    assert await first.cooling(["a", "b"]) == {"a": deadline}
    assert stored(gateway_table, cooldown_pk("a"))["until"] == deadline  # a float, exactly
    assert isinstance(stored(gateway_table, cooldown_pk("a"))["until"], float)


async def test_a_later_shorter_cooldown_leaves_the_longer_one(
    table: Dynamo, gateway_table: GatewayTable
) -> None:
    clock = Clock(WINDOW_START + 10)
    first, second = Cooldowns(table, clock=clock), Cooldowns(table, clock=clock)
    await first.record_failure("a", allowed_fails=3, cooldown_s=5, retry_after_s=50, immediate=True)
    clock.now += 2
    in_force = await second.record_failure("a", allowed_fails=3, cooldown_s=5, immediate=True)
    assert in_force == WINDOW_START + 60
    assert stored(gateway_table, cooldown_pk("a"))["until"] == WINDOW_START + 60


async def test_an_expired_item_still_in_the_table_is_not_a_cooldown(
    table: Dynamo, gateway_table: GatewayTable
) -> None:
    gateway_table.client.put_item(
        TableName=gateway_table.name,
        Item={
            "pk": {"S": cooldown_pk("a")},
            "sk": {"S": "COOLDOWN"},
            "until": {"N": str(WINDOW_START - 1)},
            "expires_at": {"N": str(WINDOW_START - 3600)},  # TTL passed; deletion is lazy
        },
    )
    assert await Cooldowns(table, clock=Clock(WINDOW_START)).cooling(["a"]) == {}
    assert await Cooldowns(table, clock=Clock(WINDOW_START - 2)).cooling(["a"]) == {
        "a": WINDOW_START - 1
    }


async def test_a_warm_cache_makes_no_aws_call(table: Dynamo, gateway_table: GatewayTable) -> None:
    clock = Clock(WINDOW_START + 10)
    cooldowns = Cooldowns(table, clock=clock)
    await cooldowns.record_failure("a", allowed_fails=0, cooldown_s=5.0)
    gateway_table.emulation.calls.clear()
    assert await cooldowns.cooling(["a", "b", "c"]) == {"a": WINDOW_START + 15}
    assert gateway_table.emulation.calls == ["BatchGetItem"]  # one read for the misses
    gateway_table.emulation.calls.clear()
    clock.now += 0.5
    assert await cooldowns.cooling(["c", "a", "b"]) == {"a": WINDOW_START + 15}
    assert gateway_table.emulation.calls == []


async def test_a_miss_reads_in_batches_of_a_hundred(
    table: Dynamo, gateway_table: GatewayTable
) -> None:
    ids = [f"deployment-{i}" for i in range(150)]
    await Cooldowns(table, clock=Clock(WINDOW_START)).record_failure(
        ids[120], allowed_fails=0, cooldown_s=5.0
    )
    gateway_table.emulation.calls.clear()
    found = await Cooldowns(table, clock=Clock(WINDOW_START)).cooling(ids)
    assert found == {ids[120]: WINDOW_START + 5}
    assert gateway_table.emulation.calls == ["BatchGetItem", "BatchGetItem"]


async def test_a_throttled_table_answers_from_what_the_instance_knows(
    table: Dynamo, gateway_table: GatewayTable, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(WINDOW_START + 10)
    cooldowns = Cooldowns(table, clock=clock)
    await cooldowns.record_failure("a", allowed_fails=0, cooldown_s=30.0)
    gateway_table.emulation.faults.update(BatchGetItem="throttle", UpdateItem="throttle")
    with caplog.at_level(logging.WARNING, logger="gateway.router.cooldowns"):
        clock.now += 5  # the cache is cold: the read fails
        assert await cooldowns.cooling(["a", "b"]) == {"a": WINDOW_START + 40}
        assert await cooldowns.record_failure("b", allowed_fails=1, cooldown_s=5.0) is None
        assert await cooldowns.record_failure("b", allowed_fails=1, cooldown_s=5.0) == (
            WINDOW_START + 20
        )
        assert await cooldowns.cooling(["a", "b"]) == {
            "a": WINDOW_START + 40,
            "b": WINDOW_START + 20,
        }
    assert "ThrottlingException" in caplog.text
    gateway_table.emulation.faults.clear()
    assert cooldown_pk("b") not in {item["pk"] for item in gateway_table.items()}


async def test_unprocessed_keys_are_asked_once_more_then_unknown() -> None:
    class Scripted:
        """A table that leaves keys unprocessed, as DynamoDB does under load."""

        table = "t"

        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        async def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
            assert operation == "BatchGetItem"
            keys = payload["RequestItems"]["t"]["Keys"]
            self.calls.append([key["pk"]["S"] for key in keys])
            item = {"pk": {"S": cooldown_pk("a")}, "until": {"N": str(WINDOW_START + 9)}}
            return {
                "Responses": {"t": [item] if len(self.calls) == 1 else []},
                "UnprocessedKeys": {
                    "t": {"Keys": [k for k in keys if k["pk"]["S"] != item["pk"]["S"]]}
                },
            }

    db = Scripted()
    cooldowns = Cooldowns(db, clock=Clock(WINDOW_START))  # type: ignore[arg-type]
    assert await cooldowns.cooling(["a", "b"]) == {"a": WINDOW_START + 9}
    assert db.calls == [[cooldown_pk("a"), cooldown_pk("b")], [cooldown_pk("b")]]


# ---- deployment usage -------------------------------------------------------------------


async def test_started_and_finished_count_requests_tokens_and_leases(db: Dynamo | None) -> None:
    clock = Clock(WINDOW_START + 10)
    usage = DeploymentUsage(db, clock=clock, cache_s=0)
    assert await usage.snapshot(["a"]) == {"a": Usage()}
    await usage.started("a", "r1")
    await usage.started("a", "r2")
    await usage.started("b", "r3")
    assert await usage.snapshot(["a", "b"]) == {
        "a": Usage(requests=2, tokens=0, in_flight=2),
        "b": Usage(requests=1, tokens=0, in_flight=1),
    }
    await usage.finished("a", "r1", 120)
    await usage.finished("a", "r1", 0)  # a second release changes nothing
    assert (await usage.snapshot(["a"]))["a"] == Usage(requests=2, tokens=120, in_flight=1)


async def test_a_new_minute_starts_counting_again_and_keeps_leases(db: Dynamo | None) -> None:
    clock = Clock(WINDOW_START + 50)
    usage = DeploymentUsage(db, clock=clock, cache_s=0)
    await usage.started("a", "r1")
    await usage.started("a", "r2")
    await usage.finished("a", "r1", 100)
    clock.now = WINDOW_START + 65
    assert (await usage.snapshot(["a"]))["a"] == Usage(requests=0, tokens=0, in_flight=1)
    await usage.finished("a", "r2", 40)  # ends in the new minute: counted there
    await usage.started("a", "r3")
    assert (await usage.snapshot(["a"]))["a"] == Usage(requests=1, tokens=40, in_flight=1)


async def test_the_lease_of_a_crashed_request_expires(db: Dynamo | None) -> None:
    clock = Clock(WINDOW_START + 10)
    usage = DeploymentUsage(db, clock=clock, cache_s=0)
    await usage.started("a", "crashed")  # never finished
    clock.now += LEASE_S - 1
    assert (await usage.snapshot(["a"]))["a"].in_flight == 1
    clock.now += 1
    assert (await usage.snapshot(["a"]))["a"].in_flight == 0


async def test_instances_share_usage_once_their_cache_expires(table: Dynamo) -> None:
    clock = Clock(WINDOW_START + 10)
    first = DeploymentUsage(table, clock=clock)
    second = DeploymentUsage(table, clock=clock)
    assert await first.snapshot(["a"]) == {"a": Usage()}
    await second.started("a", "r1")
    await second.started("a", "r2")
    await second.finished("a", "r1", 7)
    assert await first.snapshot(["a"]) == {"a": Usage()}  # cached
    clock.now += 1
    assert await first.snapshot(["a"]) == {"a": Usage(requests=2, tokens=7, in_flight=1)}


async def test_usage_with_a_warm_cache_makes_no_aws_call(
    table: Dynamo, gateway_table: GatewayTable
) -> None:
    usage = DeploymentUsage(table, clock=Clock(WINDOW_START + 10))
    await usage.snapshot(["a", "b"])
    gateway_table.emulation.calls.clear()
    await usage.snapshot(["b", "a"])
    assert gateway_table.emulation.calls == []


async def test_expired_leases_are_pruned_when_many(
    table: Dynamo, gateway_table: GatewayTable
) -> None:
    clock = Clock(WINDOW_START + 10)
    usage = DeploymentUsage(table, clock=clock)
    for i in range(PRUNE_AT):
        await usage.started("a", f"crashed-{i}")
    clock.now += LEASE_S
    await usage.started("a", "live")
    assert set(stored(gateway_table, usage_pk("a"))["leases"]) == {"live"}


async def test_a_failing_table_leaves_usage_unknown_without_raising(
    table: Dynamo, gateway_table: GatewayTable, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(WINDOW_START + 10)
    usage = DeploymentUsage(table, clock=clock)
    await usage.started("a", "r1")
    gateway_table.emulation.faults["*"] = "unavailable"
    with caplog.at_level(logging.WARNING, logger="gateway.router.usage"):
        clock.now += 1
        assert await usage.snapshot(["a", "b"]) == {  # what it knew; nothing for b
            "a": Usage(requests=1, tokens=0, in_flight=1),
            "b": Usage(),
        }
        await usage.started("a", "r2")
        await usage.finished("a", "r1", 10)
    assert "ServiceUnavailable" in caplog.text


async def test_an_instance_whose_clock_lags_joins_the_later_window(
    table: Dynamo, gateway_table: GatewayTable
) -> None:
    ahead = Cooldowns(table, clock=Clock(WINDOW_START + 61))
    behind = Cooldowns(table, clock=Clock(WINDOW_START + 59))
    assert await ahead.record_failure("a", **FAILS) is None
    assert await behind.record_failure("a", **FAILS) is None
    assert await behind.record_failure("a", **FAILS) == WINDOW_START + 64
    item = stored(gateway_table, cooldown_pk("a"))
    assert (item["window"], item["fails"]) == (WINDOW_START // 60 + 1, 3)
