"""How busy each deployment is, across every app instance (one item per deployment).

    pk USAGE#<deployment_id>   sk USAGE
    window      the current fixed one-minute window (epoch minute)
    requests    requests started in that window
    tokens      tokens of requests that finished in that window
    leases      request id -> lease deadline (epoch s): the requests in flight
    expires_at  TTL clean-up only: a day after the last write

`started` and `finished` are one UpdateItem each (window rolled over as in
store/limits.py; leases outlive the window they started in). Leases last LEASE_S and
are not renewed: a request whose sandbox crashed stops counting after LEASE_S, and so
does one that runs longer. Expired leases are ignored by `snapshot`, and pruned by
`started` when the item holds more than PRUNE_AT leases.

`snapshot` reads through a per-deployment cache of `cache_s`: one BatchGetItem for
every deployment missing from it. Nothing here raises (routing must not fail because
usage is unknown): a fault is logged, and the answer is the last item this instance
knew, else an empty usage.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.router.cooldowns import ITEM_TTL_S, batch_get, log_failure, update_in_window
from gateway.store.dynamo import encode_item, values
from gateway.store.limit_updates import window_of

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gateway.store.dynamo import Dynamo, Item

logger = logging.getLogger(__name__)

USAGE_SK = "USAGE"
LEASE_S = 120
PRUNE_AT = 50  # leases on an item before `started` drops the expired ones
PRUNE_BATCH = 50  # leases dropped by one write (an expression's size is bounded)


def usage_pk(deployment_id: str) -> str:
    return f"USAGE#{deployment_id}"


@dataclass(frozen=True, slots=True)
class Usage:
    requests: int = 0  # started in the current minute
    tokens: int = 0  # of requests that finished in the current minute
    in_flight: int = 0  # unexpired leases


def usage_of(item: Item | None, now: float) -> Usage:
    if not item:
        return Usage()
    current = int(item.get("window", 0)) >= window_of(now)
    leases = item.get("leases") or {}
    return Usage(
        requests=int(item.get("requests", 0)) if current else 0,
        tokens=int(item.get("tokens", 0)) if current else 0,
        in_flight=sum(1 for deadline in leases.values() if deadline > now),
    )


class DeploymentUsage:
    """One app instance's view of the shared usage items (in memory only with `db=None`)."""

    def __init__(
        self, db: Dynamo | None, *, clock: Callable[[], float] = time.time, cache_s: float = 1.0
    ) -> None:
        self.db = db
        self.clock = clock
        self.cache_s = cache_s
        self._items: dict[str, Item | None] = {}  # last item known (the state itself in memory)
        self._read_at: dict[str, float] = {}
        self._windows: dict[str, int] = {}  # the window this instance last wrote

    async def snapshot(self, deployment_ids: Sequence[str]) -> dict[str, Usage]:
        """Deployment id -> usage now, for each id; never raises."""
        now = self.clock()
        ids = list(dict.fromkeys(deployment_ids))
        if self.db is not None:
            stale = [d for d in ids if now - self._read_at.get(d, -math.inf) >= self.cache_s]
            if stale:
                await self._refresh(self.db, stale, now)
        return {d: usage_of(self._items.get(d), now) for d in ids}

    async def _refresh(self, db: Dynamo, ids: list[str], now: float) -> None:
        for deployment_id in ids:
            self._read_at[deployment_id] = now  # a failing table is asked again after cache_s
        projection = "pk, #w, requests, tokens, leases"
        try:
            found = await batch_get(
                db, [usage_pk(d) for d in ids], USAGE_SK, projection, {"#w": "window"}
            )
        except Exception as exc:
            log_failure(logger, "reading deployment usage", exc)
            return
        for deployment_id in ids:
            if usage_pk(deployment_id) in found:  # else unknown: keep what we knew
                self._items[deployment_id] = found[usage_pk(deployment_id)]

    async def started(self, deployment_id: str, request_id: str) -> None:
        """Count a request in the current minute and lease its slot; never raises."""
        now = self.clock()
        deadline = int(now) + LEASE_S
        if self.db is None:
            item = self._here(deployment_id, now)
            item["requests"] += 1
            item["leases"][request_id] = deadline
            return
        key = encode_item({"pk": usage_pk(deployment_id), "sk": USAGE_SK})
        expires = int(now) + ITEM_TTL_S

        def form(state: str, window: int) -> dict[str, Any]:
            named: dict[str, Any] = {"w": window, "one": 1, "expires": expires}
            if state == "missing":
                named.update(zero=0, leases={request_id: deadline})
                update = "SET #w = :w, requests = :one, tokens = :zero, leases = :leases, "
                update += "expires_at = :expires"
                return _update(key, update, "attribute_not_exists(pk)", None, named)
            named["lease"] = deadline
            if state == "same":
                update = "SET leases.#rid = :lease, expires_at = :expires ADD requests :one"
                return _update(key, update, "#w = :w", request_id, named)
            named["zero"] = 0
            update = "SET #w = :w, requests = :one, tokens = :zero, leases.#rid = :lease, "
            update += "expires_at = :expires"
            return _update(key, update, "#w < :w", request_id, named)

        written = await self._write(self.db, deployment_id, form, now)
        if written is not None and len(written.get("leases") or {}) > PRUNE_AT:
            await self._prune(self.db, deployment_id, written, now)

    async def finished(self, deployment_id: str, request_id: str, tokens: int) -> None:
        """Drop the request's lease and count its tokens in the current minute; never raises."""
        now = self.clock()
        tokens = max(int(tokens), 0)
        if self.db is None:
            item = self._here(deployment_id, now)
            item["tokens"] += tokens
            item["leases"].pop(request_id, None)
            return
        key = encode_item({"pk": usage_pk(deployment_id), "sk": USAGE_SK})
        expires = int(now) + ITEM_TTL_S

        def form(state: str, window: int) -> dict[str, Any]:
            named: dict[str, Any] = {"w": window, "n": tokens, "expires": expires}
            if state == "missing":  # gone by TTL: start it again, without the lease
                named.update(zero=0, leases={})
                update = "SET #w = :w, requests = :zero, tokens = :n, leases = :leases, "
                update += "expires_at = :expires"
                return _update(key, update, "attribute_not_exists(pk)", None, named)
            if state == "same":
                update = "SET expires_at = :expires ADD tokens :n REMOVE leases.#rid"
                return _update(key, update, "#w = :w", request_id, named)
            named["zero"] = 0
            update = "SET #w = :w, requests = :zero, tokens = :n, expires_at = :expires "
            update += "REMOVE leases.#rid"
            return _update(key, update, "#w < :w", request_id, named)

        await self._write(self.db, deployment_id, form, now)

    def _here(self, deployment_id: str, now: float) -> Item:
        """The in-memory item, in the current window (leases carried over)."""
        window = window_of(now)
        item = self._items.get(deployment_id)
        if item is None or item["window"] < window:
            leases = dict((item or {}).get("leases", {}))
            item = {"window": window, "requests": 0, "tokens": 0, "leases": leases}
            self._items[deployment_id] = item
        if len(item["leases"]) > PRUNE_AT:
            item["leases"] = {r: d for r, d in item["leases"].items() if d > now}
        return item

    async def _write(
        self,
        db: Dynamo,
        deployment_id: str,
        form: Callable[[str, int], dict[str, Any]],
        now: float,
    ) -> Item | None:
        same = self._windows.get(deployment_id, window_of(now)) == window_of(now)
        try:
            item = await update_in_window(db, form, now, first="same" if same else "older")
        except Exception as exc:
            log_failure(logger, "recording deployment usage", exc)
            return None
        self._windows[deployment_id] = int(item.get("window", 0))
        self._items[deployment_id] = item  # as fresh as a read
        self._read_at[deployment_id] = now
        return item

    async def _prune(self, db: Dynamo, deployment_id: str, item: Item, now: float) -> None:
        expired = [rid for rid, deadline in item["leases"].items() if deadline <= now]
        names = {f"#r{i}": rid for i, rid in enumerate(expired[:PRUNE_BATCH])}
        if not names:
            return
        logger.info("dropping %d expired leases of deployment %s", len(names), deployment_id)
        payload = {
            "Key": encode_item({"pk": usage_pk(deployment_id), "sk": USAGE_SK}),
            "UpdateExpression": "REMOVE " + ", ".join(f"leases.{name}" for name in names),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
        }
        try:
            await db.call("UpdateItem", payload)
        except Exception as exc:
            log_failure(logger, "pruning expired leases", exc)


def _update(
    key: dict[str, Any],
    update: str,
    condition: str,
    request_id: str | None,
    named: dict[str, Any],
) -> dict[str, Any]:
    names = {"#w": "window"} if request_id is None else {"#w": "window", "#rid": request_id}
    return {
        "Key": key,
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values(**named),
    }
