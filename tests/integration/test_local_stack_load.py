"""`make dev` under a burst (issue 16), with spend events already waiting in its queue:
requests are as fast afterwards as before, the burst does not slow itself down as it
goes, and the spend worker drains everything in time, each event applied once.

What used to happen: the emulated queue walked its whole backlog on every call, under
the lock every AWS call of the stack takes, so a backlog slowed every request's DynamoDB
calls and the spend worker's receives, which grew the backlog (gateway/local/emulation.py);
and the emulation's CPU took turns with the gateway's under one GIL (gateway/local/stack.py
now runs it in a process of its own).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import httpx

from gateway.spend.events import SpendEvent
from gateway.store.keys import hash_key
from servers import local_stack

if TYPE_CHECKING:
    from collections.abc import Callable

    from servers import Stack

BURST = 600
CONCURRENCY = 10
PROBES = 40  # sequential requests before and after the burst
BACKLOG = 1500  # spend events of another key, sent to the queue just before the burst
SEED_S = 10  # to send them (fixed: ~1 s; when each send walked the queue: ~20 s)
DRAIN_S = 15  # from the burst's end until every event is in the ledger
SEEDED_KEY = hash_key("sk-gw-seeded-backlog")
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}


async def _call(client: httpx.AsyncClient, ids: list[str]) -> float:
    started = time.perf_counter()
    answer = await client.post("/chat/completions", json=BODY)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    ids.append(answer.headers["x-request-id"])
    return elapsed


async def _probe(client: httpx.AsyncClient, ids: list[str]) -> float:
    """The median latency of PROBES requests made one after another."""
    return statistics.median([await _call(client, ids) for _ in range(PROBES)])


async def _burst(client: httpx.AsyncClient, ids: list[str]) -> list[float]:
    """BURST requests, CONCURRENCY at a time; their latencies in the order they ended."""
    latencies: list[float] = []
    left = iter(range(BURST))

    async def worker() -> None:
        for _ in left:
            latencies.append(await _call(client, ids))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return latencies


async def _traffic(
    stack: Stack, key: str, ids: list[str], seed: Callable[[], object]
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=stack.base_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        limits=limits,
    ) as client:
        await _probe(client, ids)  # warm: connections, the key's cache, the model's client
        before = await _probe(client, ids)
        seed()
        burst = await _burst(client, ids)
        after = await _probe(client, ids)
    return {"before": before, "burst": burst, "after": after, "ended": time.monotonic()}


def _seed(sqs: Any, queue_url: str) -> list[str]:
    """BACKLOG spend events, as the gateway's outbox sends them (SendMessageBatch)."""
    now = int(time.time() * 1000)
    ids: list[str] = []
    deadline = time.monotonic() + SEED_S
    for _ in range(BACKLOG // 10):
        events = [
            SpendEvent(
                request_id=uuid.uuid4().hex,
                start_ms=now,
                end_ms=now + 5,
                api_key=SEEDED_KEY,
                key_id="seeded",
                model_group="gpt-4o-mini",
                spend_micros=1,
            )
            for _ in range(10)
        ]
        entries = [{"Id": str(i), "MessageBody": e.dumps().decode()} for i, e in enumerate(events)]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        ids += [e.request_id for e in events]
        assert time.monotonic() < deadline, f"{len(ids)} of {BACKLOG} sent in {SEED_S} s"
    return ids


def _waiting(sqs: Any, queue_url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    got = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(got[name]) for name in names)


def _logged(stack: Stack, key: str) -> list[dict[str, Any]]:
    """The ledger's rows for `key` (or a key's hash), every page."""
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"api_key": key, "page_size": 1000}
    while True:
        answer = httpx.get(
            f"{stack.root}/spend/logs",
            params=params,
            headers={"Authorization": f"Bearer {stack.master_key}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        rows += answer.json()["data"]
        if not answer.json()["next_cursor"]:
            return rows
        params["cursor"] = answer.json()["next_cursor"]


def test_a_burst_on_a_backlog_leaves_make_dev_as_fast_with_each_spend_applied_once() -> None:
    with local_stack() as stack:
        made = httpx.post(
            f"{stack.root}/key/generate",
            headers={"Authorization": f"Bearer {stack.master_key}"},
            json={"max_budget": 100, "rpm_limit": 100_000},  # admission writes, as in use
            timeout=10,
        )
        assert made.status_code == 200, made.text
        key = made.json()["key"]
        queue_url = re.search(r"spend queue:\s+(\S+)", stack.banner)
        assert queue_url is not None
        endpoint = re.match(r"http://[^/]+", queue_url.group(1))
        assert endpoint is not None
        sqs = boto3.client("sqs", endpoint_url=endpoint.group(0), region_name="us-east-1")
        ids: list[str] = []
        seeded: list[str] = []
        seen = asyncio.run(
            _traffic(stack, key, ids, lambda: seeded.extend(_seed(sqs, queue_url.group(1))))
        )
        rows: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        while time.monotonic() < seen["ended"] + DRAIN_S:
            if _waiting(sqs, queue_url.group(1)) == 0:
                rows, others = _logged(stack, key), _logged(stack, SEEDED_KEY)
                if len(rows) >= len(ids) and len(others) >= len(seeded):
                    break
            time.sleep(0.25)
        drained = time.monotonic() - seen["ended"]
        info = httpx.get(
            f"{stack.root}/key/info",
            params={"key": key},
            headers={"Authorization": f"Bearer {stack.master_key}"},
            timeout=10,
        )

    burst = seen["burst"]
    early, late = statistics.median(burst[:100]), statistics.median(burst[-100:])
    report = (
        f"p50 before {seen['before'] * 1000:.0f} ms, burst {statistics.median(burst) * 1000:.0f}"
        f" ms (first 100 {early * 1000:.0f}, last 100 {late * 1000:.0f}), after"
        f" {seen['after'] * 1000:.0f} ms; everything applied {drained:.1f} s after the burst"
    )
    assert seen["after"] < 3 * seen["before"] + 0.05, report
    assert late < 2 * early + 0.1, report  # the burst did not slow itself down
    assert drained < DRAIN_S, report
    # Exactly once: one ledger row per request and per seeded event; the key's spend is theirs.
    assert sorted(row["request_id"] for row in rows) == sorted(ids), report
    assert sorted(row["request_id"] for row in others) == sorted(seeded), report
    spent = round(sum(row["spend"] for row in rows) * 1e6)
    assert spent > 0
    assert round(info.json()["info"]["spend"] * 1e6) == spent
