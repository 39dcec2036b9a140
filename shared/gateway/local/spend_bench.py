"""What the spend function writes, measured (`python -m gateway.local.spend_bench`).

Applies 1,000 spend events at a realistic fan-out (50 keys, 10 teams, 25 users, 5 model
groups, 0-2 of 8 tags, one UTC day; half the teams with a budget their requests hold) in
batches of 100 through the spend handler, against the local emulation, and reports the
TransactWriteItems actions, the DynamoDB write units they cost, and events per second
per invocation. The timings are moto's (one call at a time, ~10 ms per update), not
DynamoDB's: they bound the local stack, not the deployed one.

Write units, per DynamoDB's pricing rules:
- each action of a TransactWriteItems: 2 WCU per KB (rounded up) of the item's size
  (for an update, the larger of its size before and after; here the item's largest size
  seen: counters only grow, budget items are largest with their holds);
- the ledger item is also written to each index it has keys for (gsi1 always, gsi2-4
  with a team, user, key): 1 WCU per KB of it per index (projection ALL).
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections import Counter
from typing import Any

from gateway.billing.apply import Applier, ApplyResult
from gateway.billing.ledger import touched
from gateway.spend.events import Hold, SpendEvent
from gateway.store.dynamo import Dynamo, encode_item

EVENTS = 1000
BATCH = 100
START_MS = 1_764_590_400_000  # 2025-12-01T12:00:00Z
PERIOD = "1mo@1764547200"
PERIOD_END = 1_767_225_600
SLOT = str(START_MS // 60_000)  # the minute the team holds were reserved in


class CountingDynamo(Dynamo):
    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.transactions: list[list[dict[str, Any]]] = []
        self.updates = 0  # single UpdateItems: emptied budget slots swept

    async def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        if operation == "TransactWriteItems":
            self.transactions.append(payload["TransactItems"])
        elif operation == "UpdateItem":
            self.updates += 1
        return await super().call(operation, payload)


class NoAlerts:
    async def send(self, alert: object) -> None:
        """No soft budgets here; nothing is sent."""


def events(rng: random.Random) -> tuple[list[SpendEvent], dict[Hold, list[str]]]:
    out: list[SpendEvent] = []
    reserved: dict[Hold, list[str]] = {}
    tags = [f"tag-{i}" for i in range(8)]
    for i in range(EVENTS):
        key = rng.randrange(50)
        team = key % 10
        holds: tuple[Hold, ...] = ()
        if team < 5:
            hold = Hold("team", f"team-{team}", PERIOD, 50_000, 10**10, None, PERIOD_END, SLOT)
            holds = (hold,)
            reserved.setdefault(hold, []).append(f"req-{i:06d}")
        out.append(
            SpendEvent(
                request_id=f"req-{i:06d}",
                start_ms=START_MS + i * 50,
                end_ms=START_MS + i * 50 + rng.randrange(200, 20_000),
                api_key=f"{key:064x}",
                key_id=f"key-{key}",
                key_alias=f"service-{key}",
                key_name=f"sk-gw-...{key:04d}",
                team_id=f"team-{team}",
                user_id=f"user-{key % 25}",
                model_group=f"model-{rng.randrange(5)}",
                requested_model="gpt-4o-mini",
                model="gpt-4o-mini-2024-07-18",
                model_id="deployment-1",
                provider="openai",
                prompt_tokens=rng.randrange(20, 4000),
                completion_tokens=rng.randrange(1, 1500),
                spend_micros=rng.randrange(1, 20_000),
                ttft_ms=rng.randrange(100, 2000),
                stream=rng.random() < 0.5,
                attempts=1,
                billed_attempts=1,
                tags=tuple(rng.sample(tags, rng.randrange(3))),
                holds=holds,
            )
        )
    return out, reserved


def size(value: Any) -> int:
    """An attribute value's size by DynamoDB's rules (names count where they appear)."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return len(str(abs(value)).rstrip("0") or "0") // 2 + 2
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict):
        return 3 + sum(len(k.encode()) + size(v) + 1 for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 3 + sum(size(v) + 1 for v in value)
    raise TypeError(type(value).__name__)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + size(value) for name, value in item.items())


def kb(n: int) -> int:
    return max(1, math.ceil(n / 1024))


def main() -> None:
    import boto3

    from gateway.billing.consumer import handle
    from gateway.local import emulation
    from gateway.local.provision import create_table, load_template
    from gateway.store.dynamo import decode_item

    server = emulation.start()
    os.environ.update(
        AWS_ENDPOINT_URL=server.url,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - the emulation takes any credentials
        AWS_REGION="us-east-1",
        GATEWAY_DYNAMODB_TIMEOUT_S="120",
    )
    client = boto3.client("dynamodb", region_name="us-east-1")
    props = load_template()["Resources"]["GatewayTable"]["Properties"]
    table = create_table(client, "spend-bench", props)
    rng = random.Random(4)  # noqa: S311 - reproducible data, not secrets
    batch_events, reserved = events(rng)
    largest: dict[tuple[str, str], int] = {}
    for hold, rids in reserved.items():
        item: dict[str, Any] = {
            "pk": f"BUDGET#team#{hold.entity_id}",
            "sk": PERIOD,
            "max_budget_micros": 10**10,
            "remaining": 10**10 - 50_000 * len(rids),
            "reserved": 50_000 * len(rids),
            "spent": 0,
            "holds": {SLOT: 50_000 * len(rids)},  # as admission reserved them
            "period_end": PERIOD_END,
        }
        client.put_item(TableName=table, Item=encode_item(item))
        largest[f"BUDGET#team#{hold.entity_id}", PERIOD] = item_size(item)

    db = CountingDynamo(table)
    results: list[ApplyResult] = []

    class Recording(Applier):
        async def apply(self, events: Any) -> ApplyResult:
            result = await super().apply(events)
            results.append(result)
            return result

    rates = []
    started = time.perf_counter()
    for start in range(0, EVENTS, BATCH):
        chunk = batch_events[start : start + BATCH]
        sqs = {
            "Records": [
                {"messageId": e.request_id, "body": e.dumps().decode(), "eventSource": "aws:sqs"}
                for e in chunk
            ]
        }
        t0 = time.perf_counter()
        response = handle(sqs, applier=Recording(db, alerts=NoAlerts()))
        rates.append(len(chunk) / (time.perf_counter() - t0))
        assert response["batchItemFailures"] == [], response
    elapsed = time.perf_counter() - started
    _report(db, batch_events, client, table, largest, rates, elapsed, results, decode_item)
    server.stop()


def _report(
    db: CountingDynamo,
    batch_events: list[SpendEvent],
    client: Any,
    table: str,
    largest: dict[tuple[str, str], int],
    rates: list[float],
    elapsed: float,
    results: list[ApplyResult],
    decode_item: Any,
) -> None:
    pages = client.get_paginator("scan").paginate(TableName=table)
    items = {}
    for page in pages:
        for raw in page["Items"]:
            item = decode_item(raw)
            items[item["pk"], item["sk"]] = item
    for key, item in items.items():
        largest[key] = max(largest.get(key, 0), item_size(item))
    kinds: Counter[str] = Counter()
    wcu: Counter[str] = Counter()
    for actions in db.transactions:
        for action in actions:
            body = action.get("Put") or action["Update"]
            raw = decode_item(body.get("Item") or body["Key"])
            key = (str(raw["pk"]), str(raw["sk"]))
            kind = "ledger" if "Put" in action else key[0].split("#")[0].lower()
            kinds[kind] += 1
            wcu[kind] += 2 * kb(largest[key])
            if kind == "ledger":
                indexes = sum(1 for n in range(1, 5) if f"gsi{n}pk" in raw)
                wcu["ledger indexes"] += indexes * kb(largest[key])
    applied = sum(len(r.applied) for r in results)
    naive = sum(1 + len(touched(e)) for e in batch_events)
    total_actions = sum(kinds.values())
    ledger_size = statistics.mean(largest[k] for k in largest if k[0].startswith("SPEND#"))
    rows = [
        ("events applied", f"{applied}"),
        ("invocations (batches of 100)", f"{len(rates)}"),
        ("TransactWriteItems calls", f"{len(db.transactions)}"),
        ("actions, total", f"{total_actions}"),
        ("  ledger Puts", f"{kinds['ledger']}"),
        ("  counter Updates (SPENDAGG#)", f"{kinds['spendagg']}"),
        ("  report Updates (SPENDDAY#)", f"{kinds['spendday']}"),
        ("  budget settlements (BUDGET#)", f"{kinds['budget']}"),
        ("actions per event", f"{total_actions / applied:.2f}"),
        ("  unmerged (one update per event and item)", f"{naive / applied:.2f}"),
        ("actions per transaction (mean)", f"{total_actions / len(db.transactions):.1f}"),
        ("ledger item size (mean bytes)", f"{ledger_size:.0f}"),
        (
            "WCU, transactional actions",
            f"{sum(v for k, v in wcu.items() if k != 'ledger indexes')}",
        ),
        ("WCU, ledger index writes", f"{wcu['ledger indexes']}"),
        ("WCU, emptied budget slots swept (UpdateItem)", f"{db.updates}"),
        ("WCU per event", f"{(sum(wcu.values()) + db.updates) / applied:.2f}"),
        ("events/s per invocation (median, moto)", f"{statistics.median(rates):.0f}"),
        ("events/s per invocation (min-max)", f"{min(rates):.0f}-{max(rates):.0f}"),
        ("wall time (s, moto-bound)", f"{elapsed:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(
        "spend function, 1,000 events in batches of 100 (moto emulation)\n"
        "WCU = sum over actions of 2 x ceil(item KB)  +  sum over ledger Puts of\n"
        "      (indexes with keys: gsi1 always, gsi2-4 when team/user/key) x ceil(item KB)\n"
    )
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")


if __name__ == "__main__":
    main()
