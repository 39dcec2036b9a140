"""Who a virtual key belongs to: key, team and user records, cached in memory briefly.

A lookup is a GetItem by the key's SHA-256 (never a query built from the key), then
the team and user records it names, concurrently. Records, and the absence of a
record, are cached for `ttl_s` (GATEWAY_KEY_CACHE_S, at most 30 s): a key blocked,
deleted or expired through the admin API stops working on every instance within that
bound. Concurrent misses for one record share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.schemas.records import KeyRecord, TeamRecord, UserRecord
from gateway.store import table

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.store.dynamo import Dynamo

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified key and the team and user it belongs to."""

    key: KeyRecord
    team: TeamRecord | None
    user: UserRecord | None


class _Cache:
    """A bounded map of pk -> (fetched at, item or None) with shared in-flight reads."""

    def __init__(self, ttl_s: float, clock: Callable[[], float]) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.entries: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()
        self.pending: dict[str, asyncio.Future[dict[str, Any] | None]] = {}

    async def get(self, db: Dynamo, pk: str, sk: str) -> dict[str, Any] | None:
        now = self.clock()
        hit = self.entries.get(pk)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        if pk in self.pending:
            return await asyncio.shield(self.pending[pk])
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self.pending[pk] = future
        try:
            item = await db.get(pk, sk)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            self.pending.pop(pk, None)
        future.set_result(item)
        self.entries[pk] = (now, item)
        self.entries.move_to_end(pk)
        while len(self.entries) > MAX_ENTRIES:
            self.entries.popitem(last=False)
        return item


class Directory:
    """Key, team and user records by key hash, for one app instance."""

    def __init__(self, db: Dynamo, ttl_s: float, clock: Callable[[], float] = time.time):
        self.db = db
        self.clock = clock
        self._cache = _Cache(ttl_s, time.monotonic)

    async def identify(self, token: str) -> Identity | None:
        """The identity of a key hash, or None for an unknown, blocked or expired key.

        Raises DynamoUnavailableError when DynamoDB cannot answer: a key that cannot be
        verified is neither accepted nor called invalid.
        """
        item = await self._cache.get(self.db, table.key_pk(token), table.KEY_SK)
        if item is None:
            return None
        key = KeyRecord.from_fields(item)
        if key.blocked or key.is_expired(self.clock()):
            return None
        team_item, user_item = await asyncio.gather(
            self._get(table.team_pk(key.team_id), table.TEAM_SK) if key.team_id else _none(),
            self._get(table.user_pk(key.user_id), table.USER_SK) if key.user_id else _none(),
        )
        team = TeamRecord.from_fields(team_item) if team_item else None
        user = UserRecord.from_fields(user_item) if user_item else None
        if (team is not None and team.blocked) or (user is not None and user.blocked):
            return None
        if key.team_id and team is None:  # the team was deleted: its keys go with it
            return None
        return Identity(key=key, team=team, user=user)

    async def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        return await self._cache.get(self.db, pk, sk)


async def _none() -> None:
    return None
