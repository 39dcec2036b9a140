"""Arranging and inspecting the spend pipeline in tests: a priced model, the spend
queue on the emulation, the consumer run to empty, and the items it writes."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from conftest import write_config
from gateway.store import table
from gateway.store.dynamo import decode_item, encode_item
from gateway.store.keys import hash_key

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from conftest import GatewayTable


def write_metered_config(tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's config plus `metered`: free input, $0.001 per output token."""
    from gateway.http import dependencies

    path = write_config(tmp_path / "metered.yaml", sim_url)
    config = json.loads(path.read_text())
    config["model_list"].append(
        {
            "model_name": "metered",
            "litellm_params": {
                "model": "openai/metered-model",
                "api_base": f"{sim_url}/v1",
                "api_key": "sk-sim-openai",
            },
            "model_info": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.001},
        }
    )
    path.write_text(json.dumps(config))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    dependencies.reset()


def spend_queue(env: GatewayTable, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh spend queue (with its dead-letter queue) that the gateway sends to."""
    import boto3

    from gateway.http import dependencies

    sqs = boto3.client("sqs", endpoint_url=env.emulation.url, region_name="us-east-1")
    url: str = sqs.create_queue(QueueName=f"spend-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    monkeypatch.setenv("GATEWAY_SPEND_QUEUE_URL", url)
    dependencies.reset()
    return url


async def drain(env: GatewayTable) -> int:
    """Run the spend consumer on the queue until it is empty; the events applied."""
    import os

    from gateway.billing import outbox
    from gateway.local.spend_worker import drain as drain_queue

    await outbox.settle()  # the gateway delivers spend events after its responses
    return await drain_queue(os.environ["GATEWAY_SPEND_QUEUE_URL"], env.name)


def key_id(env: GatewayTable, key: str) -> str:
    found = env.client.get_item(
        TableName=env.name, Key=encode_item({"pk": table.key_pk(hash_key(key)), "sk": table.KEY_SK})
    )
    return str(decode_item(found["Item"])["key_id"])


def budget_item(env: GatewayTable, scope: str, entity: str) -> dict[str, Any]:
    """The one budget period item of an entity (a key by its plaintext)."""
    entity_id = key_id(env, entity) if scope == "key" else entity
    found = env.client.query(
        TableName=env.name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": table.budget_pk(scope, entity_id)}},
    )["Items"]
    assert len(found) == 1, found
    return decode_item(found[0])


def ledger(env: GatewayTable) -> list[dict[str, Any]]:
    return [item for item in env.items() if item["pk"].startswith("SPEND#")]
