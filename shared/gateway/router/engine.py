"""The router: one logical request over a model group's deployments and its fallbacks.

For each model group in turn (the requested one, then its fallbacks): the healthy
deployments (not cooling, big enough for the prompt) in the strategy's order; a
failed attempt that may be retried moves to the next deployment at once, or, when
none is left untried, waits a backoff (Retry-After when given) and tries again, up
to the retries its kind allows. Retryable failures count toward the deployment's
cooldown; a request's own 4xx never does. When a group is exhausted, the fallback
list for the failure's kind is next. Everything is bounded by the request's deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from gateway import errors
from gateway.completions import attempt
from gateway.router import fallbacks, retries, strategies

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from gateway.completions import Outcome
    from gateway.config import Deployment, GatewayConfig
    from gateway.router.cooldowns import Cooldowns
    from gateway.router.settings import RouterSettings
    from gateway.router.usage import DeploymentUsage
    from gateway.schemas.openai import ChatCompletionRequest

logger = logging.getLogger(__name__)

LATENCY_WEIGHT = 0.3  # of the newest sample in a deployment's moving average


class Attempt(Protocol):
    """One call on one deployment (gateway.completions.attempt, or the Messages API's)."""

    async def __call__(
        self,
        request: ChatCompletionRequest,
        deployment: Deployment,
        request_id: str,
        *,
        timeout_s: float,
        first_byte_s: float,
        record: bool = False,
    ) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One call made for the request, for the response metadata and spend accounting."""

    model_id: str
    model_group: str
    provider: str
    model: str  # the provider's model name
    status: int  # 200, or the status of the error the attempt ended with
    code: str | None
    billed: bool  # the provider may charge for it (it answered 2xx)


@dataclass
class RouteRequest:
    """The routing choices one request carries (LiteLLM's body fields), and how each
    deployment is called for it."""

    fallbacks: tuple[str, ...] = ()
    num_retries: int | None = None
    call: Attempt = attempt


@dataclass
class Journey:
    """What happened to one request: its attempts, and the fallback group used."""

    attempts: list[AttemptRecord] = field(default_factory=list)
    fallback: str | None = None


class Router:
    """One per app instance: its cooldown and usage views and latency memory."""

    def __init__(
        self,
        cooldowns: Cooldowns,
        usage: DeploymentUsage,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldowns = cooldowns
        self.usage = usage
        self.clock = clock
        self.latency_s: dict[str, float] = {}

    async def complete(
        self,
        request: ChatCompletionRequest,
        config: GatewayConfig,
        settings: RouterSettings,
        request_id: str,
        *,
        route: RouteRequest,
        allows: Callable[[str], bool],
        default_timeout_s: float,
        record: bool = False,
        journey: Journey | None = None,
    ) -> Outcome:
        """Serve the request; `record` keeps the answer on the outcome for the cache.
        The caller's `journey` (if given) receives the attempts, success or not."""
        deadline = self.clock() + (settings.timeout or default_timeout_s)
        journey = journey if journey is not None else Journey()
        group = request.model
        tried_groups = {group}
        while True:
            try:
                outcome = await self._group(
                    request, config, settings, request_id, group, route, deadline, journey, record
                )
            except errors.GatewayError as error:
                nxt = fallbacks.next_group(
                    error, group, settings, route, config, tried_groups, allows
                )
                if nxt is None or self.clock() >= deadline:
                    _annotate(error.headers, journey)
                    raise
                logger.info("falling back from %s to %s: %s", group, nxt, error.code)
                tried_groups.add(nxt)
                group = journey.fallback = nxt
                continue
            _annotate(outcome.headers, journey)
            return outcome

    async def _group(
        self,
        request: ChatCompletionRequest,
        config: GatewayConfig,
        settings: RouterSettings,
        request_id: str,
        group: str,
        route: RouteRequest,
        deadline: float,
        journey: Journey,
        record: bool,
    ) -> Outcome:
        deployments = config.groups.get(group) or []
        if not deployments:
            raise errors.ModelNotFoundError(
                f"The model '{group}' does not exist or you do not have access to it.",
                param="model",
            )
        sized = fallbacks.fitting(deployments, request)
        alone = len(deployments) == 1
        for_group = request if group == request.model else fallbacks.renamed(request, group)
        tried: set[str] = set()
        retry = 0
        while True:
            candidates = await self._candidates(sized, settings)
            pick = next((d for d in candidates if d.model_id not in tried), candidates[0])
            try:
                outcome = await self._attempt(
                    for_group,
                    pick,
                    request_id,
                    deadline,
                    journey,
                    counted=strategies.needs_usage(settings.routing_strategy),
                    record=record,
                    call=route.call,
                )
                outcome.on_failure.append(self._counter(pick, settings, alone=alone))
                return outcome
            except errors.GatewayError as error:
                failure = await self._count(pick, error, settings, alone=alone)
                tried.add(pick.model_id)
                retry += 1
                if not failure.retryable or retry > settings.retries_for(
                    failure.kind, route.num_retries
                ):
                    raise
                untried = any(d.model_id not in tried for d in sized)
                wait = 0.0 if untried else retries.backoff_s(retry, failure.retry_after_s)
                if self.clock() + wait >= deadline:
                    raise
                if wait:
                    await asyncio.sleep(wait)

    async def _count(
        self,
        deployment: Deployment,
        error: errors.GatewayError,
        settings: RouterSettings,
        *,
        alone: bool,
    ) -> retries.Failure:
        """Classify a failure and count it toward the deployment's cooldown if it should.
        The only deployment of a group is never cooled (as in LiteLLM): there is nothing to
        move its traffic to, and its retries must stay possible."""
        failure = retries.classify(error)
        if failure.cools and not alone:
            await self.cooldowns.record_failure(
                deployment.model_id,
                allowed_fails=settings.allowed_fails,
                cooldown_s=settings.cooldown_time,
                retry_after_s=failure.retry_after_s,
                immediate=failure.retry_after_s is not None
                and isinstance(error, errors.RateLimitError),
            )
        return failure

    def _counter(
        self, deployment: Deployment, settings: RouterSettings, *, alone: bool
    ) -> Callable[[errors.GatewayError], Awaitable[None]]:
        """Counts a stream's failure after its first byte (too late to retry) all the same."""

        async def count(error: errors.GatewayError) -> None:
            await self._count(deployment, error, settings, alone=alone)

        return count

    async def _candidates(
        self, deployments: Sequence[Deployment], settings: RouterSettings
    ) -> list[Deployment]:
        cooling = await self.cooldowns.cooling([d.model_id for d in deployments])
        healthy = [d for d in deployments if d.model_id not in cooling]
        if not healthy:
            soonest = min(cooling.values()) - time.time()
            raise errors.ServiceUnavailableError(
                "Every deployment of this model is cooling down after failures; retry later.",
                code="no_healthy_deployment",
                headers={"retry-after": str(max(1, math.ceil(soonest)))},
            )
        signals = strategies.Signals(latency_s=self.latency_s)
        if strategies.needs_usage(settings.routing_strategy):
            usage = await self.usage.snapshot([d.model_id for d in healthy])
            signals = strategies.Signals(usage=usage, latency_s=self.latency_s)
        return strategies.order(settings.routing_strategy, healthy, signals)

    async def _attempt(
        self,
        request: ChatCompletionRequest,
        deployment: Deployment,
        request_id: str,
        deadline: float,
        journey: Journey,
        *,
        counted: bool,
        record: bool,
        call: Attempt,
    ) -> Outcome:
        """One call; `counted` when the strategy reads shared usage (then it is recorded)."""
        target = deployment.target
        left = deadline - self.clock()
        timeout = min(target.timeout_s, left)
        first_byte = min(deployment.stream_timeout_s or target.timeout_s, left)
        if counted:
            await self.usage.started(deployment.model_id, request_id)
        try:
            outcome = await call(
                request,
                deployment,
                request_id,
                timeout_s=timeout,
                first_byte_s=first_byte,
                record=record,
            )
        except errors.GatewayError as error:
            if counted:
                await self.usage.finished(deployment.model_id, request_id, 0)
            journey.attempts.append(_record(deployment, error.status, error.code, error.billed))
            raise
        journey.attempts.append(_record(deployment, 200, None, True))
        self._learn(deployment.model_id, outcome.first_byte_s)
        outcome.headers["x-gateway-model-id"] = deployment.model_id
        outcome.deployment_id = deployment.model_id
        if counted:
            usage, model_id = self.usage, deployment.model_id

            async def finished(tokens: int) -> None:
                await usage.finished(model_id, request_id, tokens)

            outcome.on_end.append(finished)
        return outcome

    def _learn(self, model_id: str, seconds: float) -> None:
        old = self.latency_s.get(model_id)
        self.latency_s[model_id] = (
            seconds if old is None else old + LATENCY_WEIGHT * (seconds - old)
        )


def _record(deployment: Deployment, status: int, code: str | None, billed: bool) -> AttemptRecord:
    target = deployment.target
    return AttemptRecord(
        deployment.model_id, target.model_name, target.provider, target.model, status, code, billed
    )


def _annotate(headers: dict[str, str], journey: Journey) -> None:
    headers["x-gateway-attempts"] = str(len(journey.attempts))
    billed = sum(1 for a in journey.attempts if a.billed)
    headers["x-gateway-billed-attempts"] = str(billed)
    if journey.fallback is not None:
        headers["x-gateway-fallback"] = journey.fallback
