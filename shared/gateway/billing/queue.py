"""SendMessage to the spend queue: SQS's JSON protocol on the kept DynamoDB-style pool.

One send per request on the hot path, so it goes through the same small signed client
as DynamoDB (gateway/store/dynamo.py: ~0.2 ms of CPU a call) rather than boto3 in a
worker thread. Throttling, 5xx and network errors are retried a few times; what still
fails raises `QueueUnavailableError` and the caller falls back.
"""

from __future__ import annotations

import asyncio
import random

import orjson

from gateway import aws
from gateway.config import settings
from gateway.store.dynamo import pool
from gateway.store.pool import PoolError

ATTEMPTS = 3


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
        payload = orjson.dumps(
            {
                "QueueUrl": self.queue_url,
                "MessageBody": body.decode(),
                "MessageAttributes": {
                    "request_id": {"DataType": "String", "StringValue": dedup_id}
                },
            }
        )
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": "AmazonSQS.SendMessage",
        }
        for attempt in range(ATTEMPTS):
            try:
                signed = aws.sigv4_headers(self.url, payload, headers, "sqs", self.region)
                status, content = await pool(self.url).post(signed, payload)
            except PoolError:
                status, content = 0, b""
            if status == 200:
                return
            retryable = status == 0 or status >= 500 or b"Throttl" in content
            if not retryable or attempt == ATTEMPTS - 1:
                raise QueueUnavailableError(f"SendMessage failed with status {status}")
            await asyncio.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311
        raise AssertionError("unreachable")
