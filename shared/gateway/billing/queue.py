"""SendMessage (and SendMessageBatch, for a backlog) to the spend queue: SQS's JSON
protocol on the kept DynamoDB-style pool.

One send per request on the hot path, so it goes through the same small signed client
as DynamoDB (gateway/store/dynamo.py: ~0.2 ms of CPU a call) rather than boto3 in a
worker thread. Throttling, 5xx and network errors are retried a few times; what still
fails raises `QueueUnavailableError` and the caller falls back.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

import orjson

from gateway import aws
from gateway.config import settings
from gateway.store.dynamo import pool
from gateway.store.pool import PoolError

if TYPE_CHECKING:
    from collections.abc import Sequence

ATTEMPTS = 3
MAX_BATCH = 10  # SendMessageBatch's limit


def _message(body: bytes, dedup_id: str) -> dict[str, Any]:
    return {
        "MessageBody": body.decode(),
        "MessageAttributes": {"request_id": {"DataType": "String", "StringValue": dedup_id}},
    }


class QueueUnavailableError(Exception):
    """The message was not accepted (SQS unreachable, throttling, or an error answer)."""


class SpendQueue:
    def __init__(self, queue_url: str, *, endpoint: str | None = None) -> None:
        current = settings()
        self.queue_url = queue_url
        self.region = current.aws_region
        self.url = (endpoint or current.sqs_endpoint) + "/"

    async def send(self, body: bytes, dedup_id: str) -> None:
        """Send one message; `dedup_id` (the request id) is kept as a message attribute."""
        message = _message(body, dedup_id)
        await self._call("SendMessage", {"QueueUrl": self.queue_url, **message})

    async def send_batch(self, messages: Sequence[tuple[bytes, str]]) -> set[int]:
        """Send up to MAX_BATCH messages in one SendMessageBatch; the indexes that SQS
        did not take (the caller sends those again another way)."""
        entries = [
            {"Id": str(index), **_message(body, dedup_id)}
            for index, (body, dedup_id) in enumerate(messages)
        ]
        answer = await self._call(
            "SendMessageBatch", {"QueueUrl": self.queue_url, "Entries": entries}
        )
        taken = {int(entry["Id"]) for entry in answer.get("Successful") or () if "Id" in entry}
        return set(range(len(messages))) - taken

    async def _call(self, action: str, document: dict[str, Any]) -> dict[str, Any]:
        payload = orjson.dumps(document)
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": f"AmazonSQS.{action}",
        }
        for attempt in range(ATTEMPTS):
            try:
                signed = aws.sigv4_headers(self.url, payload, headers, "sqs", self.region)
                status, content = await pool(self.url).post(signed, payload)
            except PoolError:
                status, content = 0, b""
            if status == 200:
                try:
                    answer = orjson.loads(content) if content else {}
                except orjson.JSONDecodeError:
                    answer = {}
                return answer if isinstance(answer, dict) else {}
            retryable = status == 0 or status >= 500 or b"Throttl" in content
            if not retryable or attempt == ATTEMPTS - 1:
                raise QueueUnavailableError(f"{action} failed with status {status}")
            await asyncio.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311
        raise AssertionError("unreachable")
