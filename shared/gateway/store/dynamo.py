"""An async DynamoDB client: the JSON protocol over kept connections, signed SigV4.

The request path makes one or two calls per request, so a call's CPU matters:
about 0.25 ms here (store/pool.py) against 0.75 ms for boto3 (plus a worker-thread
hop) or 1 ms through httpx. The operations are DynamoDB's own (`GetItem`,
`UpdateItem`, `TransactWriteItems`, ...) with their wire payloads, and items are
plain Python values through `encode`/`decode`.

Throttling, 5xx and network errors are retried (bounded); what still fails is
`DynamoUnavailableError`, which the callers turn into 503 + Retry-After.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson

from gateway import aws
from gateway.config import settings
from gateway.store.pool import Pool, PoolError

API_VERSION = "DynamoDB_20120810"
ATTEMPTS = 3
RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "TransactionConflictException",
    }
)

Item = dict[str, Any]


class DynamoError(Exception):
    """A DynamoDB error that is the caller's to handle (validation, conditions)."""

    def __init__(self, code: str, message: str, payload: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.payload = payload or {}


class ConditionFailedError(DynamoError):
    @property
    def item(self) -> Item | None:
        """The item as it was (with ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
        raw = self.payload.get("Item")
        return decode_item(raw) if raw else None


class TransactionCanceledError(DynamoError):
    @property
    def reasons(self) -> list[tuple[str, Item | None]]:
        """(code, old item or None) per action, in the order of the transaction."""
        out: list[tuple[str, Item | None]] = []
        for reason in self.payload.get("CancellationReasons") or []:
            raw = reason.get("Item")
            out.append((str(reason.get("Code", "None")), decode_item(raw) if raw else None))
        return out


class DynamoUnavailableError(Exception):
    """DynamoDB could not be reached or kept throttling: retry later."""


# ---- values ---------------------------------------------------------------------------


def encode(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value (ints for numbers: money is micro-USD)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [encode(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def decode(attr: dict[str, Any]) -> Any:
    (kind, value), *_ = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: decode(v) for k, v in value.items()}
    if kind == "L":
        return [decode(v) for v in value]
    if kind in ("SS", "NS"):
        return [decode({kind[0]: v}) for v in value]
    raise TypeError(f"unsupported DynamoDB type {kind}")


def encode_item(item: Item) -> dict[str, Any]:
    return {k: encode(v) for k, v in item.items() if v is not None}


def decode_item(raw: dict[str, Any]) -> Item:
    return {k: decode(v) for k, v in raw.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: values(lim=5) -> {":lim": {"N": "5"}}."""
    return {f":{k}": encode(v) for k, v in named.items()}


# ---- the client -----------------------------------------------------------------------


_pools: dict[tuple[str, asyncio.AbstractEventLoop], Pool] = {}


def pool(url: str) -> Pool:
    """The kept connections to one AWS endpoint (DynamoDB's, or SQS's for spend events),
    per event loop: connections and their semaphore belong to the loop that made them
    (one in Lambda; several when a test serves the app on another thread)."""
    key = (url, asyncio.get_running_loop())
    found = _pools.get(key)
    if found is None:
        found = _pools[key] = Pool(url, timeout=settings().dynamodb_timeout_s, connect_timeout=1.0)
    return found


async def close() -> None:
    reset()


def release_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close and forget one event loop's connections (before that loop closes)."""
    for key in [key for key in _pools if key[1] is loop]:
        _pools.pop(key).close()


def reset() -> None:
    """Close and forget the connections (they belong to the event loop that made them)."""
    for pool in _pools.values():
        pool.close()
    _pools.clear()


class Dynamo:
    """One table's client. Stateless apart from its name; safe to share between apps."""

    def __init__(self, table: str, *, endpoint: str | None = None, region: str | None = None):
        current = settings()
        self.table = table
        self.region = region or current.aws_region
        self.url = (endpoint or current.dynamodb_endpoint) + "/"

    async def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One DynamoDB operation; TableName is filled in for single-table operations."""
        if "TransactItems" not in payload and "RequestItems" not in payload:
            payload = {"TableName": self.table, **payload}
        body = orjson.dumps(payload)
        for attempt in range(ATTEMPTS):
            try:
                status, content = await self._send(operation, body)
                data = orjson.loads(content) if content else {}
            except (PoolError, orjson.JSONDecodeError):
                if attempt == ATTEMPTS - 1:
                    raise DynamoUnavailableError(f"{operation}: DynamoDB unreachable") from None
            else:
                if status == 200:
                    return data
                code = str(data.get("__type", "")).rpartition("#")[2] or str(status)
                retryable = code in RETRYABLE or status >= 500
                if not retryable:
                    raise _error(code, str(data.get("message") or data.get("Message", "")), data)
                if attempt == ATTEMPTS - 1:
                    raise DynamoUnavailableError(f"{operation}: {code}")
            await asyncio.sleep(random.uniform(0, 0.025 * 2**attempt))  # noqa: S311
        raise AssertionError("unreachable")

    async def _send(self, operation: str, body: bytes) -> tuple[int, bytes]:
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": f"{API_VERSION}.{operation}",
        }
        signed = aws.sigv4_headers(self.url, body, headers, "dynamodb", self.region)
        return await pool(self.url).post(signed, body)

    async def get(self, pk: str, sk: str) -> Item | None:
        """GetItem, strongly consistent (a key created a moment ago must be found)."""
        data = await self.call(
            "GetItem", {"Key": encode_item({"pk": pk, "sk": sk}), "ConsistentRead": True}
        )
        raw = data.get("Item")
        return decode_item(raw) if raw else None


def _error(code: str, message: str, data: dict[str, Any]) -> DynamoError:
    if code == "ConditionalCheckFailedException":
        return ConditionFailedError(code, message, data)
    if code == "TransactionCanceledException":
        return TransactionCanceledError(code, message, data)
    return DynamoError(code, message, data)
