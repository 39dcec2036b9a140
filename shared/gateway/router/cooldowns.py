"""Deployment cooldowns shared by every app instance (one item per deployment).

    pk COOLDOWN#<deployment_id>   sk COOLDOWN
    window      the minute (epoch minute) whose failures `fails` counts
    fails       retryable failures counted in that window
    until       cooldown deadline, epoch seconds (a number, sub-second precision)
    expires_at  TTL clean-up only: a day after the last write

A failure is one conditional UpdateItem (`#w = :w` ADD, else roll the window over).
When a deployment fails more than `allowed_fails` times in a window (as LiteLLM counts:
`allowed_fails=3` cools on the fourth), or at once on a 429 with Retry-After, a second
UpdateItem sets `until`, conditioned so that a deadline is never shortened. Expiry is
always checked against the clock here: TTL deletion is lazy, and an item whose
deadline passed is not a cooldown.

Reads are cached per deployment for `cache_s`; a miss reads every missing deployment
in one BatchGetItem. Nothing here raises: routing must not fail because cooldown
state is unreadable, so a DynamoDB fault is logged and the answer comes from what this
instance knows (fail open). What this instance knows is the latest deadline it read or
wrote; as deadlines only grow, it merges reads with `max`.

A success resets nothing (as in LiteLLM): counts lapse with their window, a cooldown
with its deadline, and a request that started before the cooldown may well succeed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from typing import TYPE_CHECKING, Any

from gateway.store.dynamo import (
    ConditionFailedError,
    DynamoError,
    DynamoUnavailableError,
    decode_item,
    encode_item,
    values,
)
from gateway.store.limit_updates import window_of

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gateway.store.dynamo import Dynamo, Item

    # (state of the item: "same" window, "older" window or "missing", window) -> UpdateItem
    Form = Callable[[str, int], dict[str, Any]]

logger = logging.getLogger(__name__)

COOLDOWN_SK = "COOLDOWN"
ITEM_TTL_S = 86_400
MAX_COOLDOWN_S = 3_600.0  # a provider's Retry-After of days must not park a deployment
BATCH_KEYS = 100  # BatchGetItem's limit
ATTEMPTS = 3


def cooldown_pk(deployment_id: str) -> str:
    return f"COOLDOWN#{deployment_id}"


# ---- DynamoDB helpers shared with usage.py ----------------------------------------------


async def batch_get(
    db: Dynamo, pks: Sequence[str], sk: str, projection: str, names: dict[str, str]
) -> dict[str, Item | None]:
    """pk -> item (None: no such item), eventually consistent, 100 keys a call. Keys that
    DynamoDB leaves unprocessed are asked for once more, then left out (unknown)."""
    found: dict[str, Item | None] = {}
    for start in range(0, len(pks), BATCH_KEYS):
        chunk = pks[start : start + BATCH_KEYS]
        keys = [encode_item({"pk": pk, "sk": sk}) for pk in chunk]
        unknown: set[str] = set()
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(random.uniform(0, 0.025))  # noqa: S311 - jitter
            request: dict[str, Any] = {"Keys": keys, "ProjectionExpression": projection}
            request["ExpressionAttributeNames"] = names
            data = await db.call("BatchGetItem", {"RequestItems": {db.table: request}})
            for raw in (data.get("Responses") or {}).get(db.table) or []:
                item = decode_item(raw)
                found[item["pk"]] = item
            keys = ((data.get("UnprocessedKeys") or {}).get(db.table) or {}).get("Keys") or []
            unknown = {str(decode_item(key)["pk"]) for key in keys}
            if not keys:
                break
        found.update((pk, None) for pk in chunk if pk not in found and pk not in unknown)
    return found


async def update_in_window(db: Dynamo, form: Form, now: float, *, first: str) -> Item:
    """Apply the form the item's state calls for, learning the state from refused writes
    (their old item); the item as written. A later window on the item (another instance's
    clock runs ahead) is joined, not fought."""
    state, window = first, window_of(now)
    for _ in range(ATTEMPTS):
        payload = form(state, window)
        payload.update(ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        try:
            data = await db.call("UpdateItem", payload)
        except ConditionFailedError as exc:
            old = exc.item
            if old is None:
                state = "missing"
            elif int(old.get("window", 0)) < window:
                state = "older"
            else:
                state, window = "same", int(old["window"])
            continue
        return decode_item(data.get("Attributes") or {})
    raise DynamoUnavailableError("UpdateItem: the window kept changing")


def log_failure(log: logging.Logger, action: str, exc: Exception) -> None:
    """A DynamoDB fault, logged by its code (never an item or a message body)."""
    if isinstance(exc, DynamoError):
        log.warning("%s failed, going on without it: %s", action, exc.code)
    elif isinstance(exc, DynamoUnavailableError):
        log.warning("%s failed, going on without it: %s", action, exc)
    else:
        log.error("%s failed unexpectedly", action, exc_info=exc)


# ---- cooldowns -------------------------------------------------------------------------


class Cooldowns:
    """One app instance's view of the shared cooldowns (in memory only with `db=None`)."""

    def __init__(
        self, db: Dynamo | None, *, clock: Callable[[], float] = time.time, cache_s: float = 1.0
    ) -> None:
        self.db = db
        self.clock = clock
        self.cache_s = cache_s
        self._until: dict[str, float] = {}  # latest deadline known here (past ones too)
        self._read_at: dict[str, float] = {}  # when the table was last asked
        self._fails: dict[str, tuple[int, int]] = {}  # (window, failures seen here)
        self._windows: dict[str, int] = {}  # the window this instance last counted in

    async def cooling(self, deployment_ids: Sequence[str]) -> dict[str, float]:
        """Deployment id -> deadline for each of these cooling now; never raises."""
        now = self.clock()
        ids = list(dict.fromkeys(deployment_ids))
        if self.db is not None:
            stale = [d for d in ids if now - self._read_at.get(d, -math.inf) >= self.cache_s]
            if stale:
                await self._refresh(self.db, stale, now)
        return {d: until for d in ids if (until := self._until.get(d, 0.0)) > now}

    async def _refresh(self, db: Dynamo, ids: list[str], now: float) -> None:
        # A failed read also counts as a read: a struggling table is asked again after
        # cache_s, not on every request.
        for deployment_id in ids:
            self._read_at[deployment_id] = now
        try:
            found = await batch_get(
                db, [cooldown_pk(d) for d in ids], COOLDOWN_SK, "pk, #u", {"#u": "until"}
            )
        except Exception as exc:
            log_failure(logger, "reading cooldowns", exc)
            return
        for deployment_id in ids:
            item = found.get(cooldown_pk(deployment_id))
            if item is not None:
                self._remember(deployment_id, float(item.get("until", 0.0)))

    async def record_failure(
        self,
        deployment_id: str,
        *,
        allowed_fails: int,
        cooldown_s: float,
        retry_after_s: float | None = None,
        immediate: bool = False,
    ) -> float | None:
        """Count one retryable failure; cool the deployment past `allowed_fails` failures
        in the minute, or at once when `immediate`. The deadline in force, or None."""
        now = self.clock()
        fails = self._count_here(deployment_id, now)
        if self.db is not None:
            try:
                item = await self._count_shared(self.db, deployment_id, now)
            except Exception as exc:
                log_failure(logger, "counting a deployment failure", exc)  # this instance's count
            else:
                fails = int(item.get("fails", fails))
                self._remember(deployment_id, float(item.get("until", 0.0)))
        if immediate or fails > allowed_fails:
            seconds = cooldown_seconds(cooldown_s, retry_after_s)
            if seconds > 0:
                self._remember(deployment_id, await self._cool(deployment_id, now + seconds, now))
        until = self._until.get(deployment_id, 0.0)
        return until if until > now else None

    def _count_here(self, deployment_id: str, now: float) -> int:
        window = window_of(now)
        seen, count = self._fails.get(deployment_id, (window, 0))
        count = count + 1 if seen == window else 1
        self._fails[deployment_id] = (window, count)
        return count

    async def _count_shared(self, db: Dynamo, deployment_id: str, now: float) -> Item:
        key = encode_item({"pk": cooldown_pk(deployment_id), "sk": COOLDOWN_SK})
        expires = int(now) + ITEM_TTL_S

        def form(state: str, window: int) -> dict[str, Any]:
            named = values(w=window, one=1, expires=expires)
            if state == "same":
                update, condition = "SET expires_at = :expires ADD fails :one", "#w = :w"
            else:
                update = "SET #w = :w, fails = :one, expires_at = :expires"
                condition = "attribute_not_exists(#w) OR #w < :w"
            return {
                "Key": key,
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#w": "window"},
                "ExpressionAttributeValues": named,
            }

        same = self._windows.get(deployment_id) == window_of(now)
        item = await update_in_window(db, form, now, first="same" if same else "older")
        self._windows[deployment_id] = int(item.get("window", 0))
        return item

    async def _cool(self, deployment_id: str, deadline: float, now: float) -> float:
        """Set the deadline unless a later one stands; the deadline in force."""
        if self.db is None:
            return deadline
        payload = {
            "Key": encode_item({"pk": cooldown_pk(deployment_id), "sk": COOLDOWN_SK}),
            "UpdateExpression": "SET #u = :new, expires_at = :expires",
            "ConditionExpression": "attribute_not_exists(#u) OR #u < :new",
            "ExpressionAttributeNames": {"#u": "until"},
            "ExpressionAttributeValues": values(new=deadline, expires=int(deadline) + ITEM_TTL_S),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            await self.db.call("UpdateItem", payload)
        except ConditionFailedError as exc:
            standing = (exc.item or {}).get("until")
            return max(deadline, float(standing)) if standing is not None else deadline
        except Exception as exc:
            log_failure(logger, "writing a cooldown", exc)  # cooling here only, then
        else:
            logger.info("deployment %s cools down for %.1f s", deployment_id, deadline - now)
        return deadline

    def _remember(self, deployment_id: str, until: float) -> None:
        self._until[deployment_id] = max(self._until.get(deployment_id, 0.0), until)


def cooldown_seconds(cooldown_s: float, retry_after_s: float | None) -> float:
    """max(cooldown, Retry-After), ignoring NaN and negatives, at most MAX_COOLDOWN_S."""
    wanted = [s for s in (cooldown_s, retry_after_s) if s is not None and not math.isnan(s)]
    return min(max(max(wanted, default=0.0), 0.0), MAX_COOLDOWN_S)
