"""The spend function's handler as Lambda runs it: SQS batches in, batchItemFailures out,
with redelivery, crashes after commit, lost responses, outages, poison and a real
dead-letter queue on the emulation. Every event must count exactly once.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from test_spend_apply import (
    HEALED_SLOT,
    FakeAlerts,
    assert_counted_once,
    assert_settled,
    items_by_prefix,
    reserve,
    spend,
    team_hold,
)

from gateway.billing.apply import Applier, ApplyResult
from gateway.billing.consumer import handle
from gateway.local.provision import create_queues, load_template
from gateway.local.spend_worker import SpendWorker
from gateway.spend.events import Hold, SpendEvent
from gateway.store import table
from gateway.store.dynamo import Dynamo, encode_item

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conftest import GatewayTable

ROOT = Path(__file__).resolve().parents[2]
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:SpendQueue"

Message = tuple[str, str]  # (messageId, body)


def sqs_event(messages: Sequence[Message], receive_count: int = 1) -> dict[str, Any]:
    """A Lambda SQS event as the event source mapping delivers it."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"handle-{message_id}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": "1764590400000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1764590400001",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
            for message_id, body in messages
        ]
    }


def failures(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


class CrashError(Exception):
    """The sandbox died after the transactions committed, before answering."""


class CrashAfterCommit(Applier):
    async def apply(self, events: Sequence[SpendEvent]) -> ApplyResult:
        await super().apply(events)
        raise CrashError


# ---- a thousand events, each delivered four times ----------------------------------------


def _events(rng: random.Random, count: int) -> tuple[list[SpendEvent], dict[Hold, list[str]]]:
    """Requests over 12 keys, 4 teams, 8 users, 3 models and 0-2 of 4 tags; about 60%
    with a team budget hold (a few healed before settlement), some with a key hold of 0."""
    events, reserved = [], collections.defaultdict(list)
    soft = team_hold(0, team="t0", soft_budget_micros=2_000_000)
    for i in range(count):
        team = f"t{rng.randrange(4)}"
        holds: list[Hold] = []
        amount = rng.choice([0, 50_000, 200_000])
        if rng.random() < 0.6:
            hold = soft if team == "t0" else team_hold(amount, team=team)
            if hold.amount_micros and rng.random() < 0.05:  # 5%: given back by admission
                hold = team_hold(amount, team=team, slot=HEALED_SLOT)
            elif hold.amount_micros:
                reserved[hold].append(f"req-{i}")
            holds.append(hold)
        if rng.random() < 0.2:
            holds.append(Hold("key", f"k{i % 12}", "all", 0))
        events.append(
            spend(
                f"req-{i}",
                start_ms=1_764_590_400_000 + rng.randrange(3) * 86_400_000 + i,
                key_id=f"k{i % 12}",
                api_key=f"{i % 12:064d}",
                team_id=team,
                user_id=f"u{rng.randrange(8)}" if rng.random() < 0.8 else None,
                model_group=f"m{rng.randrange(3)}",
                tags=tuple(rng.sample(["a", "b", "c", "d"], rng.randrange(3))),
                status="failure" if rng.random() < 0.1 else "success",
                cache_hit=rng.random() < 0.05,
                prompt_tokens=rng.randrange(5000),
                completion_tokens=rng.randrange(2000),
                cached_tokens=rng.randrange(100),
                reasoning_tokens=rng.randrange(50),
                spend_micros=rng.randrange(150_000),
                holds=tuple(holds),
            )
        )
    return events, reserved


def test_a_thousand_events_delivered_four_times_count_once(gateway_table: GatewayTable) -> None:
    rng = random.Random(20251201)
    events, reserved = _events(rng, 1000)
    for hold, rids in reserved.items():
        reserve(gateway_table, hold, rids)
    messages = [(f"m-{e.request_id}-{n}", e.dumps().decode()) for e in events for n in range(4)]
    rng.shuffle(messages)
    pending = collections.deque(messages)
    alerts = FakeAlerts()
    db = Dynamo(gateway_table.name)
    crashes = lost = invocations = 0
    while pending:
        batch = [pending.popleft() for _ in range(min(100, len(pending)))]
        invocations += 1
        applier = Applier(db, alerts=alerts)
        roll = rng.random()
        if roll < 0.15:
            applier, crashes = CrashAfterCommit(db, alerts=alerts), crashes + 1
        elif roll < 0.4:
            gateway_table.emulation.inject("TransactWriteItems", "lost", times=1)
            lost += 1
        try:
            response = handle(sqs_event(batch), applier=applier)
        except CrashError:
            pending.extend(batch)  # the invocation failed: SQS hands out the batch again
            continue
        finally:
            gateway_table.emulation.faults.pop("TransactWriteItems", None)
        failed = failures(response)
        pending.extend(m for m in batch if m[0] in failed)
    assert crashes >= 3
    assert lost >= 5
    assert invocations >= 40
    assert_counted_once(gateway_table, events)
    assert_settled(gateway_table, [e for e in events if e.holds])
    assert len(alerts.sent) == 1  # team t0 crossed its soft budget once, whatever the retries
    assert alerts.sent[0].entity_id == "t0"


# ---- one batch -----------------------------------------------------------------------------


def test_a_poison_message_fails_alone(gateway_table: GatewayTable) -> None:
    good = [spend(f"r{i}") for i in range(9)]
    messages = [(f"m{i}", e.dumps().decode()) for i, e in enumerate(good)]
    messages.insert(4, ("poison", '{"v": 1, "request_id": "x"}'))
    response = handle(sqs_event(messages), applier=Applier(Dynamo(gateway_table.name)))
    assert failures(response) == {"poison"}
    assert_counted_once(gateway_table, good)
    again = handle(sqs_event(messages), applier=Applier(Dynamo(gateway_table.name)))
    assert failures(again) == {"poison"}
    assert_counted_once(gateway_table, good)


def test_an_outage_fails_every_record_and_counts_nothing(gateway_table: GatewayTable) -> None:
    events = [spend(f"r{i}", key_id=f"k{i % 4}") for i in range(30)]
    messages = [(f"m{i}", e.dumps().decode()) for i, e in enumerate(events)]
    gateway_table.emulation.inject("*", "unavailable")
    response = handle(sqs_event(messages), applier=Applier(Dynamo(gateway_table.name)))
    gateway_table.emulation.faults.clear()
    assert failures(response) == {m for m, _ in messages}
    assert items_by_prefix(gateway_table, "SPEND") == {}
    retried = handle(sqs_event(messages, 2), applier=Applier(Dynamo(gateway_table.name)))
    assert failures(retried) == set()
    assert_counted_once(gateway_table, events)


def test_a_failed_alert_is_retried_by_redelivery_once(gateway_table: GatewayTable) -> None:
    hold = team_hold(10_000, soft_budget_micros=500)
    reserve(gateway_table, hold, ["a", "b"])
    events = [
        spend("a", spend_micros=400, holds=(hold,)),
        spend("b", spend_micros=400, holds=(hold,)),
    ]
    messages = [("ma", events[0].dumps().decode()), ("mb", events[1].dumps().decode())]
    alerts = FakeAlerts(failures=1)
    first = handle(sqs_event(messages), applier=Applier(Dynamo(gateway_table.name), alerts=alerts))
    assert failures(first) == {"ma", "mb"}
    assert alerts.sent == []
    second = handle(
        sqs_event(messages, 2), applier=Applier(Dynamo(gateway_table.name), alerts=alerts)
    )
    assert failures(second) == set()
    third = handle(
        sqs_event(messages, 3), applier=Applier(Dynamo(gateway_table.name), alerts=alerts)
    )
    assert failures(third) == set()
    assert len(alerts.sent) == 1
    assert alerts.sent[0].spent_micros == 800
    assert_settled(gateway_table, events)
    (item,) = items_by_prefix(gateway_table, "BUDGET#").values()
    assert item["soft_alerted"] is True


# ---- the real queue, its dead-letter queue, and the local worker -------------------------


def _queues(env: GatewayTable, max_receives: int) -> tuple[Any, dict[str, str]]:
    resources = load_template()["Resources"]
    props = {
        name: copy.deepcopy(dict(resources[name]["Properties"]))
        for name in ("SpendQueue", "SpendDeadLetterQueue")
    }
    props["SpendQueue"]["RedrivePolicy"]["maxReceiveCount"] = max_receives
    props["SpendQueue"]["VisibilityTimeout"] = 1  # a failed message comes back in a second
    sqs = boto3.client("sqs", endpoint_url=env.emulation.url, region_name="us-east-1")
    return sqs, create_queues(sqs, props, suffix=f"-{uuid.uuid4().hex[:8]}")


def test_poison_reaches_the_dead_letter_queue_and_the_rest_count_once(
    gateway_table: GatewayTable,
) -> None:
    sqs, urls = _queues(gateway_table, max_receives=2)
    good = [spend(f"r{i}", spend_micros=10 * i) for i in range(9)]
    poison = '{"v": 1, "request_id": "x", "start_ms": "soon"}'
    for body in (
        [e.dumps().decode() for e in good[:4]] + [poison] + [e.dumps().decode() for e in good[4:]]
    ):
        sqs.send_message(QueueUrl=urls["SpendQueue"], MessageBody=body)
    sqs.send_message(QueueUrl=urls["SpendQueue"], MessageBody=good[0].dumps().decode())  # again
    dead: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    with SpendWorker(urls["SpendQueue"], table=gateway_table.name, alerts=FakeAlerts()) as worker:
        while not dead and time.monotonic() < deadline:
            if not worker.poll():
                time.sleep(0.2)
            dead = sqs.receive_message(QueueUrl=urls["SpendDeadLetterQueue"]).get("Messages", [])
        stats = worker.stats
    assert [m["Body"] for m in dead] == [poison]
    assert stats.applied == 9  # the repeated message came in the same batch: one event
    assert stats.failed == 2  # the poison's two receives
    assert stats.deleted == 10
    assert_counted_once(gateway_table, good)
    left = sqs.get_queue_attributes(QueueUrl=urls["SpendQueue"], AttributeNames=["All"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert left["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_the_lambda_entrypoint_with_the_sample_event(gateway_table: GatewayTable) -> None:
    """functions/spend/handler.py in its own interpreter (it configures logging for good),
    fed events/spend_batch.sqs.json (`sam local invoke SpendFunction -e ...`): two spend
    events of one budgeted key, and a message that is not a spend event."""
    sample = json.loads((ROOT / "events" / "spend_batch.sqs.json").read_text())
    records = sample["Records"]
    events = [SpendEvent.parse(record["body"]) for record in records[:2]]
    hold = events[0].holds[0]
    gateway_table.client.put_item(  # the key's budget item as admission left it
        TableName=gateway_table.name,
        Item=encode_item(
            {
                "pk": table.budget_pk(hold.scope, hold.entity_id),
                "sk": hold.period,
                "max_budget_micros": hold.max_budget_micros,
                "remaining": hold.max_budget_micros - 2 * hold.amount_micros,
                "reserved": 2 * hold.amount_micros,
                "spent": 0,
                "holds": {hold.slot: 2 * hold.amount_micros},
            }
        ),
    )
    script = (
        "import importlib.util, json, sys\n"
        "from types import SimpleNamespace\n"
        "spec = importlib.util.spec_from_file_location('h', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "context = SimpleNamespace(function_name='SpendFunction', memory_limit_in_mb=512,\n"
        "    invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:s',\n"
        "    aws_request_id='req')\n"
        "print(json.dumps(module.handler(json.loads(sys.stdin.read()), context)))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": gateway_table.emulation.url,
        "GATEWAY_TABLE": gateway_table.name,
        "POWERTOOLS_SERVICE_NAME": "llm-gateway-spend",
        "PYTHONPATH": str(ROOT / "shared"),
        "PATH": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "functions/spend/handler.py")],
        input=json.dumps(sample),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "batchItemFailures": [{"itemIdentifier": records[2]["messageId"]}]
    }
    logs = [json.loads(line) for line in done.stderr.splitlines() + done.stdout.splitlines()[:-1]]
    summary = [line for line in logs if line.get("message") == "spend batch applied"]
    assert summary
    assert summary[0]["service"] == "llm-gateway-spend"
    assert summary[0]["function_request_id"] == "req"
    assert_counted_once(gateway_table, events)
    budget = next(i for i in gateway_table.items() if i["pk"].startswith("BUDGET#"))
    cost = sum(e.spend_micros for e in events)
    assert (budget["spent"], budget["reserved"], budget["holds"]) == (cost, 0, {})
    assert budget["remaining"] == hold.max_budget_micros - cost
