"""Shared rate limits: requests and tokens per minute, and parallel requests, per level.

Each limited level (a key, its team, its user) has one item, `LIMIT#<scope>#<id>`:

    window    the current fixed one-minute window (epoch minute)
    requests  requests admitted in that window
    tokens    tokens used by requests that completed in that window
    leases    request id -> lease deadline (epoch s): the requests in flight

Admission is one conditional write for all levels together: an UpdateItem for one
level, a TransactWriteItems for several, so a request admitted by the key but refused
by its team consumes nothing. The condition checks the window, `requests < rpm`,
`tokens < tpm` and `size(leases) < max_parallel` (no arithmetic: DynamoDB conditions
have none). A refused write returns the old item, which says why: a new window
(roll it over), a missing item (create it), expired leases (drop them, retry) or a
real limit (429 with Retry-After and x-ratelimit-* headers).

TPM policy: a request is admitted while the window's recorded tokens are under the
limit (a pre-check); its actual tokens are added when it completes, to the window it
completes in. Requests already in flight can overshoot by their own tokens.

Parallel slots are leases of LEASE_S seconds, renewed every LEASE_S / 2 while the
request runs and released when it ends. A request whose sandbox crashed stops
renewing, so its slot heals within LEASE_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.errors import RateLimitError, ServiceUnavailableError
from gateway.store import table
from gateway.store.dynamo import (
    ConditionFailedError,
    DynamoError,
    DynamoUnavailableError,
    TransactionCanceledError,
    decode_item,
    encode_item,
    values,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.schemas.records import Limits
    from gateway.store.dynamo import Dynamo, Item

logger = logging.getLogger(__name__)

WINDOW_S = 60
LEASE_S = 120
ITEM_TTL_S = 86_400  # idle limit items are deleted by TTL a day after their last use
ATTEMPTS = 4
MAX_SEEN = 10_000


@dataclass(frozen=True, slots=True)
class Level:
    scope: str  # "key", "team" or "user"
    entity_id: str
    limits: Limits

    @property
    def pk(self) -> str:
        return table.limit_pk(self.scope, self.entity_id)


@dataclass(slots=True)
class Admission:
    """An admitted request: what to release when it ends, and headers for the client."""

    request_id: str
    levels: tuple[Level, ...]
    headers: dict[str, str] = field(default_factory=dict)
    limiter: Limiter | None = None
    renewal: asyncio.Task[None] | None = None
    released: bool = False

    async def release(self, tokens: int) -> None:
        """Give back the slot and record the tokens used (idempotent; never raises)."""
        if self.limiter is not None:
            await self.limiter.release(self, tokens)

    @property
    def holds_lease(self) -> bool:
        return any(level.limits.max_parallel_requests is not None for level in self.levels)


@dataclass(frozen=True, slots=True)
class _Refusal:
    level: Level
    reason: str  # "requests", "tokens" or "parallel"
    item: Item


class Limiter:
    """Admits and releases requests against the shared limit items of one table."""

    def __init__(self, db: Dynamo, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        # pk -> {"window": w} last written by this instance: the first request of a new
        # minute rolls the window over at once instead of failing once to learn of it.
        self._seen: dict[str, Item] = {}

    async def admit(self, levels: list[Level], request_id: str) -> Admission:
        """Admit a request on every level at once, or raise 429 (or 503 if DynamoDB fails)."""
        limited = tuple(level for level in levels if level.limits.any())
        admission = Admission(request_id=request_id, levels=limited, limiter=self)
        if not limited:
            return admission
        for level in limited:
            _refuse_zero_limits(level, self.clock())
        try:
            await self._admit(admission)
        except DynamoUnavailableError:
            raise ServiceUnavailableError(
                "Rate limits cannot be checked right now; retry shortly.",
                headers={"retry-after": "2"},
            ) from None
        if admission.holds_lease:
            admission.renewal = asyncio.create_task(self._renew(admission))
        return admission

    async def _admit(self, admission: Admission) -> None:
        known: dict[str, Item | None] = {}  # pk -> old item learned from a refused write
        for _ in range(ATTEMPTS):
            now = self.clock()
            actions = [
                self._action(level, admission.request_id, now, known) for level in admission.levels
            ]
            try:
                new_items = await self._write(actions)
            except _Refused as refused:
                refusals = []
                for level, (code, old) in zip(admission.levels, refused.reasons, strict=True):
                    if code == "ConditionalCheckFailed":
                        refusal = self._diagnose(level, old, now, known)
                        if refusal is not None:
                            refusals.append(refusal)
                if refusals:
                    await self._refuse(refusals, now)
                if refused.conflict:
                    await asyncio.sleep(0.01)
                continue
            admission.headers = _headers(admission.levels, new_items, now)
            if len(self._seen) > MAX_SEEN:
                self._seen.clear()
            for level in admission.levels:
                self._seen[level.pk] = {"window": int(now // WINDOW_S)}
            return
        raise ServiceUnavailableError(
            "Rate limits are contended; retry shortly.", headers={"retry-after": "1"}
        )

    def _action(
        self, level: Level, request_id: str, now: float, known: dict[str, Item | None]
    ) -> dict[str, Any]:
        """The update for one level, in the form the item's last known state calls for."""
        limits = level.limits
        old = known.get(level.pk, self._seen.get(level.pk))
        window = max(int(now // WINDOW_S), int(old.get("window", 0)) if old else 0)
        lease = limits.max_parallel_requests is not None
        named: dict[str, Any] = {"w": window, "expires": int(now) + ITEM_TTL_S, "one": 1}
        names = {"#w": "window"}
        if level.pk in known and old is None:  # no item yet: create it
            named.update(zero=0, leases={request_id: int(now) + LEASE_S} if lease else {})
            update = "SET #w = :w, requests = :one, tokens = :zero, leases = :leases, "
            update += "expires_at = :expires"
            conditions = ["attribute_not_exists(pk)"]
        else:
            if old is not None and int(old.get("window", 0)) < window:  # a new window
                named["zero"] = 0
                update = "SET #w = :w, requests = :one, tokens = :zero, expires_at = :expires"
                conditions = ["#w < :w"]
            else:
                update = "SET expires_at = :expires"
                conditions = ["#w = :w"]
                if limits.rpm_limit is not None:
                    conditions.append("requests < :rpm")
                    named["rpm"] = limits.rpm_limit
                if limits.tpm_limit is not None:
                    conditions.append("tokens < :tpm")
                    named["tpm"] = limits.tpm_limit
            if lease:
                update += ", leases.#rid = :deadline"
                names["#rid"] = request_id
                named["deadline"] = int(now) + LEASE_S
                conditions.append("size(leases) < :par")
                named["par"] = limits.max_parallel_requests
            if conditions[0] == "#w = :w":
                update += " ADD requests :one"
        return {
            "Key": encode_item({"pk": level.pk, "sk": table.LIMIT_SK}),
            "UpdateExpression": update,
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values(**named),
        }

    async def _write(self, actions: list[dict[str, Any]]) -> list[Item | None]:
        """Apply the updates atomically; the new items when DynamoDB returns them."""
        try:
            if len(actions) == 1:
                data = await self.db.call(
                    "UpdateItem",
                    {
                        **actions[0],
                        "ReturnValues": "ALL_NEW",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    },
                )
                return [decode_item(data["Attributes"]) if data.get("Attributes") else None]
            items = [
                {
                    "Update": {
                        "TableName": self.db.table,
                        **action,
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
                for action in actions
            ]
            await self.db.call("TransactWriteItems", {"TransactItems": items})
        except ConditionFailedError as exc:
            raise _Refused([("ConditionalCheckFailed", exc.item)]) from None
        except TransactionCanceledError as exc:
            raise _Refused(exc.reasons) from None
        return [None] * len(actions)

    def _diagnose(
        self, level: Level, old: Item | None, now: float, known: dict[str, Item | None]
    ) -> _Refusal | None:
        """Why a level's write failed; None when a retry with what we learned may pass."""
        known[level.pk] = old
        if old is None:
            return None
        limits = level.limits
        leases = dict(old.get("leases") or {})
        if limits.max_parallel_requests is not None and len(leases) >= limits.max_parallel_requests:
            if any(deadline <= now for deadline in leases.values()):
                return _Refusal(level, "expired-leases", old)
            return _Refusal(level, "parallel", old)
        if int(old.get("window", 0)) != int(now // WINDOW_S):
            return None  # a new window (ours or, with clock skew, the item's): retry
        if limits.rpm_limit is not None and int(old.get("requests", 0)) >= limits.rpm_limit:
            return _Refusal(level, "requests", old)
        if limits.tpm_limit is not None and int(old.get("tokens", 0)) >= limits.tpm_limit:
            return _Refusal(level, "tokens", old)
        return None

    async def _refuse(self, refusals: list[_Refusal], now: float) -> None:
        """Heal expired leases (then the caller retries) or raise the 429."""
        healable = [r for r in refusals if r.reason == "expired-leases"]
        if len(healable) == len(refusals):
            await asyncio.gather(*(self._drop_expired(r.level, r.item, now) for r in healable))
            return
        real = [r for r in refusals if r.reason != "expired-leases"]
        raise _rate_limit_error(real, now)

    async def _drop_expired(self, level: Level, item: Item, now: float) -> None:
        expired = [rid for rid, deadline in (item.get("leases") or {}).items() if deadline <= now]
        names = {f"#r{i}": rid for i, rid in enumerate(expired)}
        logger.info("healing %d expired parallel-request leases", len(expired))
        await self.db.call(
            "UpdateItem",
            {
                "Key": encode_item({"pk": level.pk, "sk": table.LIMIT_SK}),
                "UpdateExpression": "REMOVE " + ", ".join(f"leases.{n}" for n in names),
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": names,
            },
        )

    # ---- after the request --------------------------------------------------------------

    async def release(self, admission: Admission, tokens: int) -> None:
        """Give back the parallel slot and record the tokens used; never raises."""
        if admission.released:
            return
        admission.released = True
        if admission.renewal is not None:
            admission.renewal.cancel()
        work = [
            self._release_level(level, admission.request_id, tokens)
            for level in admission.levels
            if level.limits.max_parallel_requests is not None
            or (level.limits.tpm_limit is not None and tokens > 0)
        ]
        results = await asyncio.gather(*work, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                logger.warning("could not release a rate-limit level: %s", type(result).__name__)

    async def _release_level(self, level: Level, request_id: str, tokens: int) -> None:
        now = self.clock()
        window = int(now // WINDOW_S)
        key = encode_item({"pk": level.pk, "sk": table.LIMIT_SK})
        lease = level.limits.max_parallel_requests is not None
        names = {"#w": "window", "#rid": request_id}
        remove = " REMOVE leases.#rid" if lease else ""
        if not (level.limits.tpm_limit is not None and tokens > 0):
            names.pop("#w")
            await self.db.call(
                "UpdateItem",
                {
                    "Key": key,
                    "UpdateExpression": remove.strip(),
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                },
            )
            return
        if not lease:
            names.pop("#rid")
        same = {
            "UpdateExpression": f"ADD tokens :n{remove}",
            "ConditionExpression": "#w = :w",
            "ExpressionAttributeValues": values(n=tokens, w=window),
        }
        rolled = {  # the first write of a new window: no request admitted in it yet
            "UpdateExpression": f"SET #w = :w, requests = :zero, tokens = :n{remove}",
            "ConditionExpression": "#w < :w",
            "ExpressionAttributeValues": values(n=tokens, w=window, zero=0),
        }
        for form in (same, rolled, same):
            with contextlib.suppress(ConditionFailedError):
                await self.db.call(
                    "UpdateItem", {"Key": key, **form, "ExpressionAttributeNames": names}
                )
                return

    async def _renew(self, admission: Admission) -> None:
        """Extend the request's leases while it runs (cancelled by `release`)."""
        while True:
            await asyncio.sleep(LEASE_S / 2)
            deadline = int(self.clock()) + LEASE_S
            for level in admission.levels:
                if level.limits.max_parallel_requests is None:
                    continue
                with contextlib.suppress(DynamoError, DynamoUnavailableError):
                    await self.db.call(
                        "UpdateItem",
                        {
                            "Key": encode_item({"pk": level.pk, "sk": table.LIMIT_SK}),
                            "UpdateExpression": "SET leases.#rid = :deadline",
                            "ConditionExpression": "attribute_exists(leases.#rid)",
                            "ExpressionAttributeNames": {"#rid": admission.request_id},
                            "ExpressionAttributeValues": values(deadline=deadline),
                        },
                    )


class _Refused(Exception):
    def __init__(self, reasons: list[tuple[str, Item | None]]) -> None:
        super().__init__("refused")
        self.reasons = reasons
        self.conflict = any(code == "TransactionConflict" for code, _ in reasons)


def _refuse_zero_limits(level: Level, now: float) -> None:
    limits = level.limits
    for reason, value in (
        ("requests", limits.rpm_limit),
        ("tokens", limits.tpm_limit),
        ("parallel", limits.max_parallel_requests),
    ):
        if value is not None and value <= 0:
            raise _rate_limit_error([_Refusal(level, reason, {})], now)


def _retry_after(now: float) -> int:
    return max(1, math.ceil(WINDOW_S - (now % WINDOW_S)))


def _tightest(levels: tuple[Level, ...], attribute: str) -> int | None:
    limits = [getattr(level.limits, attribute) for level in levels]
    present = [value for value in limits if value is not None]
    return min(present) if present else None


def _headers(levels: tuple[Level, ...], items: list[Item | None], now: float) -> dict[str, str]:
    """x-ratelimit-* for an admitted request: the tightest limit, and what remains of it
    when DynamoDB returned the new counts (a single-item write; a transaction does not)."""
    headers: dict[str, str] = {}
    for attribute, noun in (("rpm_limit", "requests"), ("tpm_limit", "tokens")):
        limited = [
            (getattr(level.limits, attribute), item)
            for level, item in zip(levels, items, strict=True)
            if getattr(level.limits, attribute) is not None
        ]
        if not limited:
            continue
        headers[f"x-ratelimit-limit-{noun}"] = str(min(limit for limit, _ in limited))
        if all(item is not None for _, item in limited):
            left = min(limit - int(item.get(noun, 0)) for limit, item in limited if item)
            headers[f"x-ratelimit-remaining-{noun}"] = str(max(0, left))
        headers[f"x-ratelimit-reset-{noun}"] = f"{_retry_after(now)}s"
    return headers


def _rate_limit_error(refusals: list[_Refusal], now: float) -> RateLimitError:
    first = refusals[0]
    levels = tuple(r.level for r in refusals)
    retry = 1 if first.reason == "parallel" else _retry_after(now)
    headers = {"retry-after": str(retry)}
    for attribute, noun in (("rpm_limit", "requests"), ("tpm_limit", "tokens")):
        limit = _tightest(levels, attribute)
        if limit is not None:
            headers[f"x-ratelimit-limit-{noun}"] = str(limit)
            headers[f"x-ratelimit-reset-{noun}"] = f"{_retry_after(now)}s"
    if first.reason == "requests":
        headers["x-ratelimit-remaining-requests"] = "0"
    if first.reason == "tokens":
        headers["x-ratelimit-remaining-tokens"] = "0"
    what = {
        "requests": "requests per minute",
        "tokens": "tokens per minute",
        "parallel": "parallel requests",
    }[first.reason]
    return RateLimitError(
        f"Rate limit reached for {first.level.scope}: {what}. Retry after {retry} s.",
        headers=headers,
    )
