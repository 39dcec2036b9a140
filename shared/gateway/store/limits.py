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

Budget reservations (gateway/store/budgets.py) join the same write: rate limits and
budgets of every level are admitted together or not at all.

Parallel slots are leases of LEASE_S seconds, renewed every LEASE_S / 2 while the
request runs and released when it ends. A request whose sandbox crashed stops
renewing, so its slot heals within LEASE_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.errors import BudgetExceededError, ServiceUnavailableError
from gateway.store import budgets, table
from gateway.store import limit_updates as updates
from gateway.store.dynamo import (
    ConditionFailedError,
    DynamoError,
    DynamoUnavailableError,
    TransactionCanceledError,
    decode_item,
)
from gateway.store.limit_headers import Refusal, limit_headers, refusal_error, refuse_zero_limits

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gateway.schemas.records import Limits
    from gateway.spend.events import Hold
    from gateway.store.dynamo import Dynamo, Item

logger = logging.getLogger(__name__)

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
    holds: tuple[Hold, ...] = ()  # every budget level, reserved or only tracking spend
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


class Limiter:
    """Admits and releases requests against the shared limit items of one table."""

    def __init__(self, db: Dynamo, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        # pk -> {"window": w} last written by this instance: the first request of a new
        # minute rolls the window over at once instead of failing once to learn of it.
        self._seen: dict[str, Item] = {}

    async def admit(
        self, levels: list[Level], request_id: str, holds: Sequence[Hold] = ()
    ) -> Admission:
        """Admit a request on every level at once (rate limits and budget reservations),
        or raise 429 (or 503 if DynamoDB fails)."""
        limited = tuple(level for level in levels if level.limits.any())
        admission = Admission(
            request_id=request_id, levels=limited, holds=tuple(holds), limiter=self
        )
        reserving = [hold for hold in holds if budgets.reserves(hold)]
        if not limited and not reserving:
            return admission
        for level in limited:
            refuse_zero_limits(level, self.clock())
        for hold in reserving:
            budgets.precheck(hold, self.clock())
        try:
            await self._admit(admission, reserving)
        except DynamoUnavailableError:
            raise ServiceUnavailableError(
                "Rate limits cannot be checked right now; retry shortly.",
                headers={"retry-after": "2"},
            ) from None
        if admission.holds_lease:
            admission.renewal = asyncio.create_task(self._renew(admission))
        return admission

    async def _admit(self, admission: Admission, reserving: list[Hold]) -> None:
        known: dict[str, Item | None] = {}  # pk -> old item learned from a refused write
        limited = len(admission.levels)
        for _ in range(ATTEMPTS):
            now = self.clock()
            actions = [
                updates.admission(
                    level.pk,
                    level.limits,
                    admission.request_id,
                    now,
                    known.get(level.pk, self._seen.get(level.pk)),
                    missing=level.pk in known and known[level.pk] is None,
                )
                for level in admission.levels
            ]
            actions += [budgets.reservation(hold) for hold in reserving]
            try:
                new_items = await self._write(actions)
            except _Refused as refused:
                refusals = []
                for level, (code, old) in zip(admission.levels, refused.reasons, strict=False):
                    if code == "ConditionalCheckFailed":
                        refusal = self._diagnose(level, old, now, known)
                        if refusal is not None:
                            refusals.append(refusal)
                if refusals:
                    await self._refuse(refusals, now)
                await self._budget_refusals(reserving, refused.reasons[limited:], now)
                if refused.conflict:
                    await asyncio.sleep(0.01)
                continue
            admission.headers = limit_headers(admission.levels, new_items[:limited], now)
            if len(self._seen) > MAX_SEEN:
                self._seen.clear()
            for level in admission.levels:
                self._seen[level.pk] = {"window": updates.window_of(now)}
            return
        raise ServiceUnavailableError(
            "Rate limits are contended; retry shortly.", headers={"retry-after": "1"}
        )

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
    ) -> Refusal | None:
        """Why a level's write failed; None when a retry with what we learned may pass."""
        known[level.pk] = old
        if old is None:
            return None
        limits = level.limits
        leases = dict(old.get("leases") or {})
        if limits.max_parallel_requests is not None and len(leases) >= limits.max_parallel_requests:
            if any(deadline <= now for deadline in leases.values()):
                return Refusal(level, "expired-leases", old)
            return Refusal(level, "parallel", old)
        if int(old.get("window", 0)) != updates.window_of(now):
            return None  # a new window (ours or, with clock skew, the item's): retry
        if limits.rpm_limit is not None and int(old.get("requests", 0)) >= limits.rpm_limit:
            return Refusal(level, "requests", old)
        if limits.tpm_limit is not None and int(old.get("tokens", 0)) >= limits.tpm_limit:
            return Refusal(level, "tokens", old)
        return None

    async def _refuse(self, refusals: list[Refusal], now: float) -> None:
        """Heal expired leases (then the caller retries) or raise the 429."""
        healable = [r for r in refusals if r.reason == "expired-leases"]
        if len(healable) == len(refusals):
            await asyncio.gather(*(self._drop_expired(r.level, r.item, now) for r in healable))
            return
        real = [r for r in refusals if r.reason != "expired-leases"]
        raise refusal_error(real, now)

    async def _budget_refusals(
        self, reserving: list[Hold], reasons: list[tuple[str, Item | None]], now: float
    ) -> None:
        """Refuse a request over budget, or fix what made a reservation fail (then retry)."""
        fixes = []
        for hold, (code, old) in zip(reserving, reasons, strict=True):
            if code != "ConditionalCheckFailed":
                continue
            verdict = budgets.diagnose(hold, old, now)
            if isinstance(verdict, BudgetExceededError):
                raise verdict
            fixes.append(verdict.update)
        for update in fixes:
            with contextlib.suppress(ConditionFailedError):
                await self.db.call("UpdateItem", update)

    async def _drop_expired(self, level: Level, item: Item, now: float) -> None:
        expired = updates.expired_leases(item, now)
        logger.info("healing %d expired parallel-request leases", len(expired))
        await self.db.call("UpdateItem", updates.drop_leases(level.pk, expired))

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
        lease = level.limits.max_parallel_requests is not None
        counted = tokens if level.limits.tpm_limit is not None else 0
        forms = updates.release(level.pk, request_id, self.clock(), lease=lease, tokens=counted)
        for form in forms:
            with contextlib.suppress(ConditionFailedError):
                await self.db.call("UpdateItem", form)
                return

    async def _renew(self, admission: Admission) -> None:
        """Extend the request's leases while it runs (cancelled by `release`)."""
        while True:
            await asyncio.sleep(updates.LEASE_S / 2)
            for level in admission.levels:
                if level.limits.max_parallel_requests is not None:
                    with contextlib.suppress(DynamoError, DynamoUnavailableError):
                        update = updates.renewal(level.pk, admission.request_id, self.clock())
                        await self.db.call("UpdateItem", update)


class _Refused(Exception):
    def __init__(self, reasons: list[tuple[str, Item | None]]) -> None:
        super().__init__("refused")
        self.reasons = reasons
        self.conflict = any(code == "TransactionConflict" for code, _ in reasons)
