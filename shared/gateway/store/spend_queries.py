"""Reads of the spend pipeline's items for the admin API (layout: /work/notes/spend-layout.md).

Spend logs are the ledger items (`SPEND#<request id>`), found through four indexes that
all sort by `<start ms, 13 digits>#<request id>`: gsi1 `LOGS#<day>`, gsi2 `LOGS#TEAM#`,
gsi3 `LOGS#USER#` and gsi4 `LOGS#KEY#<key hash>`. A listing reads the most selective
index newest first (a time range is a BETWEEN on the sort key) and checks the other
filters in code, so one predicate serves the indexes and the GetItem by request id.

Pages resume from an opaque cursor holding the index partition and the key of the last
item examined, which is what DynamoDB's ExclusiveStartKey needs. Filtering in code means
a page may read more than it returns; a page that examined `max_examined` items stops
early and hands back a cursor, so no request reads without bound.

Also here: the day report rows (`SPENDDAY#<day>`, one Query per day) and the spend of a
key, team or user (its budget period's `spent`, or its lifetime aggregate).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from gateway.schemas.records import KeyRecord, TeamRecord
from gateway.spend.periods import period_of
from gateway.store import table
from gateway.store.dynamo import decode_item, encode_item, values

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.schemas.records import UserRecord
    from gateway.store.dynamo import Dynamo, Item

DAY_INDEX = table.KIND_INDEX  # gsi1: LOGS#<day>
MAX_MS = 10**13 - 1  # the largest 13-digit start time (year 2286)
QUERY_LIMIT = 1000
PARALLEL_GETS = 16  # GetItems in flight for one answer
DAY_QUERIES = 8  # day partitions read at once for a report
MAX_CURSOR = 2048
_SORT = re.compile(r"\d{13}#.+", re.DOTALL)


class BadCursorError(ValueError):
    """A cursor that this listing did not hand out (malformed, or for other filters)."""


# ---- spend logs -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogFilter:
    """What a spend log must match; None matches anything. Times are epoch ms, inclusive."""

    api_key: str | None = None  # the key hash
    user_id: str | None = None
    team_id: str | None = None
    start_ms: int = 0
    end_ms: int = MAX_MS

    def matches(self, item: Item) -> bool:
        return (
            (self.api_key is None or item.get("api_key") == self.api_key)
            and (self.user_id is None or item.get("user_id") == self.user_id)
            and (self.team_id is None or item.get("team_id") == self.team_id)
            and self.start_ms <= int(item.get("start_ms", -1)) <= self.end_ms
        )


@dataclass(frozen=True, slots=True)
class LogSource:
    """Where a listing reads: an index and its partitions, newest partition first."""

    index: str
    partitions: tuple[str, ...]
    filter: LogFilter


def source(wanted: LogFilter, days: Sequence[str]) -> LogSource:
    """The most selective index for the filter: the key's, the user's, the team's, else
    the day index over `days` (newest first)."""
    for scope, value in (("key", wanted.api_key), ("user", wanted.user_id)):
        if value is not None:
            index = table.KEY_LOG_INDEX if scope == "key" else table.USER_INDEX
            return LogSource(index, (table.logs_pk(scope, value),), wanted)
    if wanted.team_id is not None:
        return LogSource(table.TEAM_INDEX, (table.logs_pk("team", wanted.team_id),), wanted)
    return LogSource(DAY_INDEX, tuple(table.logs_pk(None, day) for day in days), wanted)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page stopped: the partition and the key of the last item examined."""

    partition: str
    key: dict[str, str]


@dataclass(frozen=True, slots=True)
class LogPage:
    items: list[Item] = field(default_factory=list)
    after: Position | None = None  # None: nothing more


def _sort_bounds(wanted: LogFilter) -> tuple[str, str]:
    low = min(max(wanted.start_ms, 0), MAX_MS)
    high = min(max(wanted.end_ms, 0), MAX_MS)
    return f"{low:013d}#", f"{high:013d}$"  # "$" sorts after "#<request id>"


def _query(src: LogSource, partition: str, start: dict[str, str] | None, limit: int) -> Any:
    low, high = _sort_bounds(src.filter)
    payload: dict[str, Any] = {
        "IndexName": src.index,
        "KeyConditionExpression": "#p = :p AND #s BETWEEN :lo AND :hi",
        "ExpressionAttributeNames": {"#p": f"{src.index}pk", "#s": f"{src.index}sk"},
        "ExpressionAttributeValues": values(p=partition, lo=low, hi=high),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start is not None:
        payload["ExclusiveStartKey"] = encode_item(start)
    return payload


def _position(src: LogSource, partition: str, item: Item) -> Position:
    names = ("pk", "sk", f"{src.index}pk", f"{src.index}sk")
    return Position(partition, {name: str(item[name]) for name in names})


async def log_page(
    db: Dynamo, src: LogSource, limit: int, after: Position | None, *, max_examined: int
) -> LogPage:
    """Up to `limit` matching logs after `after`, newest first, and where the next page
    starts (None when there is no more)."""
    partitions = src.partitions
    if after is not None:
        partitions = partitions[partitions.index(after.partition) :]
    items: list[Item] = []
    examined = 0
    last: Position | None = None
    for partition in partitions:
        start = after.key if after is not None and after.partition == partition else None
        while True:
            want = min(QUERY_LIMIT, max(limit + 1, 100), max_examined - examined)
            data = await db.call("Query", _query(src, partition, start, want))
            for raw in data.get("Items") or []:
                item = decode_item(raw)
                if src.filter.matches(item):
                    if len(items) == limit:
                        return LogPage(items, last)  # one more exists: resume after `last`
                    items.append(item)
                last = _position(src, partition, item)
                examined += 1
                if examined >= max_examined:
                    return LogPage(items, last)
            if not data.get("LastEvaluatedKey"):
                break
            start = decode_item(data["LastEvaluatedKey"])
    return LogPage(items, None)


def encode_cursor(position: Position) -> str:
    data = {"p": position.partition, "k": position.key}
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def decode_cursor(text: str, src: LogSource) -> Position:
    """The position a cursor names, checked against the listing it is used with."""
    try:
        if len(text) > MAX_CURSOR:
            raise ValueError("too long")
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        raise BadCursorError("not a cursor") from None
    names = {"pk", "sk", f"{src.index}pk", f"{src.index}sk"}
    key = data.get("k") if isinstance(data, dict) and set(data) == {"p", "k"} else None
    if (
        not isinstance(key, dict)
        or set(key) != names
        or not all(isinstance(v, str) for v in key.values())
        or data["p"] not in src.partitions
        or key[f"{src.index}pk"] != data["p"]
        or key["sk"] != table.LEDGER_SK
        or not key["pk"].startswith("SPEND#")
        or not _SORT.fullmatch(key[f"{src.index}sk"])
    ):
        raise BadCursorError("not a cursor of this listing")
    return Position(data["p"], key)


async def ledger(db: Dynamo, request_id: str) -> Item | None:
    """One request's spend log."""
    return await db.get(table.ledger_pk(request_id), table.LEDGER_SK)


# ---- day reports ----------------------------------------------------------------------


async def _day(db: Dynamo, day: str, gate: asyncio.Semaphore) -> list[Item]:
    payload: dict[str, Any] = {
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": values(p=table.report_pk(day)),
    }
    rows: list[Item] = []
    async with gate:
        while True:
            data = await db.call("Query", payload)
            rows.extend(decode_item(raw) for raw in data.get("Items") or [])
            if not data.get("LastEvaluatedKey"):
                return rows
            payload = {**payload, "ExclusiveStartKey": data["LastEvaluatedKey"]}


async def report_rows(db: Dynamo, days: Sequence[str]) -> dict[str, list[Item]]:
    """Each day's report rows (`T#<team>#<model>` and `G#<tag>`): one Query per day."""
    gate = asyncio.Semaphore(DAY_QUERIES)
    found = await asyncio.gather(*(_day(db, day, gate) for day in days))
    return dict(zip(days, found, strict=True))


async def get_many(db: Dynamo, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Item]:
    """The items that exist among `keys` (pk, sk): GetItems, a few at a time. Not
    BatchGetItem: the admin function's role grants no batch operations (template.yaml)."""
    gate = asyncio.Semaphore(PARALLEL_GETS)
    unique = list(dict.fromkeys(keys))

    async def one(pk: str, sk: str) -> Item | None:
        async with gate:
            return await db.get(pk, sk)

    found = await asyncio.gather(*(one(pk, sk) for pk, sk in unique))
    return {key: item for key, item in zip(unique, found, strict=True) if item is not None}


async def team_aliases(db: Dynamo, team_ids: Sequence[str]) -> dict[str, str | None]:
    """team_id -> team_alias, for the teams that exist."""
    keys = [(table.team_pk(t), table.TEAM_SK) for t in team_ids]
    items = await get_many(db, keys)
    return {item["team_id"]: item.get("team_alias") for item in items.values()}


# ---- an entity's spend ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spend:
    micros: int = 0
    reset_at: int | None = None  # epoch seconds: the end of the budget period


@dataclass(frozen=True, slots=True)
class _Where:
    pk: str
    sk: str
    attribute: str
    reset_at: int | None


def _where(record: KeyRecord | TeamRecord | UserRecord, now: float) -> _Where | None:
    """The item holding the record's spend: its budget period's (with a budget_duration),
    else its lifetime aggregate."""
    if isinstance(record, KeyRecord):
        scope, entity_id = "key", record.key_id
    elif isinstance(record, TeamRecord):
        scope, entity_id = "team", record.team_id
    else:
        scope, entity_id = "user", record.user_id
    if not entity_id:
        return None
    if record.budget_duration:
        try:
            period = period_of(record.budget_duration, now)
        except ValueError:  # a duration no period can follow ("0d"): lifetime spend
            pass
        else:
            return _Where(table.budget_pk(scope, entity_id), period.id, "spent", period.end)
    return _Where(table.spend_pk(scope, entity_id), table.TOTAL_SK, "spend_micros", None)


async def spend_of(
    db: Dynamo, records: Sequence[KeyRecord | TeamRecord | UserRecord], now: float
) -> list[Spend]:
    """Each record's spend (current budget period or lifetime): one GetItem each."""
    wheres = [_where(record, now) for record in records]
    items = await get_many(db, [(w.pk, w.sk) for w in wheres if w is not None])
    out: list[Spend] = []
    for where in wheres:
        if where is None:
            out.append(Spend())
            continue
        item = items.get((where.pk, where.sk)) or {}
        out.append(Spend(int(item.get(where.attribute) or 0), where.reset_at))
    return out
