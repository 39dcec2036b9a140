"""Keys, teams and users in the gateway table: reads, listings and audited writes.

Writes: a `Transaction` collects changes, each with its audit record
(gateway.store.audit), and commits them with TransactWriteItems. Items carry a
revision counter (`rev`) beside the record's fields. A create requires the item to
be absent (`attribute_not_exists(pk)`); a replace or delete requires it to exist at
the revision that was read (`attribute_exists(pk) AND rev = :rev`), so two admins
cannot overwrite each other's change or bring back a deleted object. A failed
condition becomes 400 (already exists), 404 (gone since it was read) or 409
(changed since it was read). Replaces are UpdateItems, so attributes other writers
keep on an item survive them. One transaction holds at most 100 actions: a larger
change (a team with many keys) is written as several, in order, and is atomic per part.

Listings: DynamoDB has no offsets, so a page is found by Querying an index newest
first with a FilterExpression, reading items up to the end of the requested page
and only counting (Select=COUNT) the rest for the total. A page costs the reads of
the pages before it: fine at admin volumes.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from gateway.errors import GatewayError, InternalError, InvalidRequestError, NotFoundError
from gateway.schemas.records import KeyRecord, TeamRecord, UserRecord
from gateway.store import table
from gateway.store.audit import audit_item, audit_put
from gateway.store.dynamo import TransactionCanceledError, decode_item, encode_item, values

if TYPE_CHECKING:
    from gateway.store.audit import AuditContext
    from gateway.store.dynamo import Dynamo, Item

logger = logging.getLogger(__name__)

REV = "rev"
MAX_ACTIONS = 100  # TransactWriteItems' limit
_KEYS = frozenset({"pk", "sk"})

Record = KeyRecord | TeamRecord | UserRecord
R = TypeVar("R", KeyRecord, TeamRecord, UserRecord)


class ConflictError(GatewayError):
    """Someone else changed the object between our read and our write."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"


@dataclass(frozen=True, slots=True)
class Stored(Generic[R]):
    """A record as read, with the revision a write must still find."""

    record: R
    rev: int


def location(record: Record) -> tuple[str, str]:
    if isinstance(record, KeyRecord):
        return table.key_pk(record.token), table.KEY_SK
    if isinstance(record, TeamRecord):
        return table.team_pk(record.team_id), table.TEAM_SK
    return table.user_pk(record.user_id), table.USER_SK


def identity(record: Record) -> str:
    if isinstance(record, KeyRecord):
        return record.token
    if isinstance(record, TeamRecord):
        return record.team_id
    return record.user_id


def stored(cls: type[R], item: Item) -> Stored[R]:
    return Stored(cls.from_fields(item), int(item.get(REV, 0)))


async def get_key(db: Dynamo, token: str) -> Stored[KeyRecord] | None:
    item = await db.get(table.key_pk(token), table.KEY_SK)
    return stored(KeyRecord, item) if item else None


async def get_team(db: Dynamo, team_id: str) -> Stored[TeamRecord] | None:
    item = await db.get(table.team_pk(team_id), table.TEAM_SK)
    return stored(TeamRecord, item) if item else None


async def get_user(db: Dynamo, user_id: str) -> Stored[UserRecord] | None:
    item = await db.get(table.user_pk(user_id), table.USER_SK)
    return stored(UserRecord, item) if item else None


# ---- listings -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listing:
    """The items of one index partition, newest first, narrowed by a filter."""

    index: str
    partition: str
    equals: dict[str, Any] = field(default_factory=dict)
    contains: dict[str, str] = field(default_factory=dict)
    within: dict[str, tuple[str, ...]] = field(default_factory=dict)
    present: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        names = {"#p": f"{self.index}pk"}
        named: dict[str, Any] = {"p": self.partition}
        terms: list[str] = []
        for i, (name, value) in enumerate(self.equals.items()):
            names[f"#e{i}"], named[f"e{i}"] = name, value
            terms.append(f"#e{i} = :e{i}")
        for i, (name, value) in enumerate(self.contains.items()):
            names[f"#c{i}"], named[f"c{i}"] = name, value
            terms.append(f"contains(#c{i}, :c{i})")
        for i, (name, options) in enumerate(self.within.items()):
            names[f"#w{i}"] = name
            named.update({f"w{i}_{j}": option for j, option in enumerate(options)})
            choices = ", ".join(f":w{i}_{j}" for j in range(len(options)))
            terms.append(f"#w{i} IN ({choices})")
        for i, name in enumerate(self.present):
            names[f"#x{i}"] = name
            terms.append(f"attribute_exists(#x{i})")
        payload: dict[str, Any] = {
            "IndexName": self.index,
            "KeyConditionExpression": "#p = :p",
            "ScanIndexForward": False,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values(**named),
        }
        if terms:
            payload["FilterExpression"] = " AND ".join(terms)
        return payload


def everything(kind: str, **narrow: Any) -> Listing:
    """Every key, team or user (kind KEYS, TEAMS or USERS)."""
    return Listing(table.KIND_INDEX, kind, **narrow)


def team_keys(team_id: str, **narrow: Any) -> Listing:
    # The team index holds a team's users too; only keys have a token.
    return Listing(table.TEAM_INDEX, table.team_pk(team_id), present=("token",), **narrow)


def user_keys(user_id: str, **narrow: Any) -> Listing:
    return Listing(table.USER_INDEX, table.user_pk(user_id), **narrow)


async def page(db: Dynamo, listing: Listing, *, skip: int, take: int) -> tuple[list[Item], int]:
    """Items skip..skip+take of the listing (newest first), and how many it holds in all."""
    want = skip + take
    kept: list[Item] = []
    total = 0
    request = listing.payload()
    while True:
        if len(kept) >= want:
            request["Select"] = "COUNT"  # the rest is only counted
        data = await db.call("Query", request)
        items = data.get("Items") or []
        total += int(data.get("Count", len(items)))
        kept.extend(decode_item(raw) for raw in items[: max(0, want - len(kept))])
        last = data.get("LastEvaluatedKey")
        if not last:
            return kept[skip:], total
        request = {**request, "ExclusiveStartKey": last}


async def every(db: Dynamo, listing: Listing) -> list[Item]:
    items, _ = await page(db, listing, skip=0, take=sys.maxsize)
    return items


async def keys_in(db: Dynamo, listing: Listing) -> list[Stored[KeyRecord]]:
    return [stored(KeyRecord, item) for item in await every(db, listing)]


# ---- writes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    """One change (and its audit record), and what a failed condition on it means."""

    actions: tuple[dict[str, Any], ...]
    mode: str  # "create", "change" or "check"
    kind: str
    entity_id: str
    param: str | None
    where: tuple[str, str]


def _unchanged(old: Stored[Any]) -> dict[str, Any]:
    """Condition arguments: the item exists at the revision that was read."""
    if old.rev == 0:  # an item written without a revision
        return {
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#rev)",
            "ExpressionAttributeNames": {"#rev": REV},
        }
    return {
        "ConditionExpression": "attribute_exists(pk) AND #rev = :rev",
        "ExpressionAttributeNames": {"#rev": REV},
        "ExpressionAttributeValues": values(rev=old.rev),
    }


def _update(old: Stored[Any], new: Item) -> dict[str, Any]:
    """UpdateItem arguments that turn the old record's item into `new`."""
    names: dict[str, str] = {}
    named: dict[str, Any] = {"next": new[REV]}
    sets: list[str] = ["#rev = :next"]  # "#rev" is the condition's name for it too
    removes: list[str] = []
    stale = set(table.item_of(old.record)) - set(new)  # e.g. gsi2pk when a key leaves a team
    for i, name in enumerate(sorted((set(new) | stale) - _KEYS - {REV})):
        names[f"#a{i}"] = name
        if new.get(name) is None:
            removes.append(f"#a{i}")
        else:
            named[f"a{i}"] = new[name]
            sets.append(f"#a{i} = :a{i}")
    condition = _unchanged(old)
    return {
        **condition,
        "UpdateExpression": f"SET {', '.join(sets)}"
        + (f" REMOVE {', '.join(removes)}" if removes else ""),
        "ExpressionAttributeNames": {**names, **condition["ExpressionAttributeNames"]},
        "ExpressionAttributeValues": {
            **values(**named),
            **condition.get("ExpressionAttributeValues", {}),
        },
    }


class Transaction:
    """Changes and their audit records, committed together (in order, 100 actions a call)."""

    def __init__(self, db: Dynamo, context: AuditContext) -> None:
        self.db = db
        self.context = context
        self.steps: list[_Step] = []

    def create(self, record: Record, action: str, *, param: str | None = None) -> None:
        item = encode_item({**table.item_of(record), REV: 1})
        put = {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        self._add("create", record, param, "Put", put, (action, None, record.fields()))

    def replace(self, old: Stored[R], record: R, action: str, *, ttl: int | None = None) -> None:
        new = {**table.item_of(record), REV: old.rev + 1}
        if ttl is not None:
            new[table.TTL_ATTRIBUTE] = ttl
        update = {"Key": self._key(record), **_update(old, new)}
        audit = (action, old.record.fields(), record.fields())
        self._add("change", record, None, "Update", update, audit)

    def delete(self, old: Stored[R], action: str) -> None:
        delete = {"Key": self._key(old.record), **_unchanged(old)}
        self._add("change", old.record, None, "Delete", delete, (action, old.record.fields(), None))

    def require(self, current: Stored[R], *, param: str) -> None:
        """The record must still be as read when the change commits (nothing is audited)."""
        check = {"Key": self._key(current.record), **_unchanged(current)}
        self._add("check", current.record, param, "ConditionCheck", check, None)

    def _key(self, record: Record) -> dict[str, Any]:
        pk, sk = location(record)
        return encode_item({"pk": pk, "sk": sk})

    def _add(
        self,
        mode: str,
        record: Record,
        param: str | None,
        operation: str,
        arguments: dict[str, Any],
        audit: tuple[str, dict[str, Any] | None, dict[str, Any] | None] | None,
    ) -> None:
        """One step: the operation and, unless it only checks, its audit record."""
        entity_id = identity(record)
        actions = [{operation: {"TableName": self.db.table, **arguments}}]
        if audit is not None:
            action, before, after = audit
            item = audit_item(
                self.context,
                kind=record.KIND,
                entity_id=entity_id,
                action=action,
                before=before,
                after=after,
            )
            actions.append(audit_put(self.db.table, item))
        where = location(record)
        self.steps.append(_Step(tuple(actions), mode, record.KIND, entity_id, param, where))

    async def commit(self) -> None:
        chunk: list[_Step] = []
        size = 0
        for step in self.steps:
            if chunk and size + len(step.actions) > MAX_ACTIONS:
                await self._write(chunk)
                chunk, size = [], 0
            chunk.append(step)
            size += len(step.actions)
        if chunk:
            await self._write(chunk)

    async def _write(self, steps: list[_Step]) -> None:
        actions = [action for step in steps for action in step.actions]
        try:
            await self.db.call("TransactWriteItems", {"TransactItems": actions})
        except TransactionCanceledError as exc:
            raise await self._failure(steps, [code for code, _ in exc.reasons]) from None

    async def _failure(self, steps: list[_Step], codes: list[str]) -> GatewayError:
        at = 0
        for step in steps:
            if codes[at : at + 1] == ["ConditionalCheckFailed"]:
                return await self._explain(step)
            at += len(step.actions)
        if "TransactionConflict" in codes:
            return ConflictError("Another change to the same objects was in progress; retry.")
        logger.warning("admin transaction cancelled: %s", codes)
        return InternalError("The change could not be written; retry later.")

    async def _explain(self, step: _Step) -> GatewayError:
        label = (
            "The key" if step.kind == KeyRecord.KIND else f"{step.kind.title()} '{step.entity_id}'"
        )
        if step.mode == "create":
            return InvalidRequestError(
                f"{label} already exists.", param=step.param, code="already_exists"
            )
        if await self.db.get(*step.where) is None:
            return NotFoundError(f"{label} was not found.", param=step.param)
        return ConflictError(f"{label} changed while this request ran; retry.", param=step.param)
