"""The request pipeline after validation, shared by every inference route.

Order: model access, the response cache plan, admission (the shared rate limits and
the budget reservation of the request's worst case, in one write), the cache lookup,
then the router. When the response ends, however it ends, the admission is released
and one spend event is handed to the instance's outbox (gateway/http/accounting.py),
which sends it after the response (gateway/billing/outbox.py). A route brings its
request as a ChatCompletionRequest (the Messages API brings its translation, which
prices, sizes and routes it; embeddings and rerank bring their text as one message,
`text_view`) and says how each deployment is called (`RouteRequest.call`), which
endpoint it is (a model serves the endpoints of its mode, gateway/endpoints.py) and,
when its cost is not a chat's, how its worst case is bounded (`Prepared.estimate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from starlette.responses import Response

from gateway import errors
from gateway.cache.shape import CHAT
from gateway.config import settings
from gateway.endpoints import require
from gateway.http import access, caching, routing
from gateway.http.accounting import Account
from gateway.http.auth import authenticate
from gateway.http.body import parse_json, read_body, reject_routing_overrides
from gateway.http.dependencies import gateway_config
from gateway.http.ids import request_id
from gateway.http.streaming import Finishing, KeepAliveStreamingResponse
from gateway.schemas import bounds
from gateway.spend.estimate import reachable_deployments, require_priced, worst_case_micros
from gateway.telemetry import access_log

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from starlette.requests import Request

    from gateway.cache.controls import CacheControls
    from gateway.cache.shape import CacheShape
    from gateway.completions import Outcome
    from gateway.config import Deployment, GatewayConfig
    from gateway.endpoints import Endpoint
    from gateway.http.auth import Caller
    from gateway.router.engine import RouteRequest
    from gateway.router.settings import RouterSettings
    from gateway.schemas.openai import ChatCompletionRequest
    from gateway.spend.events import Hold
    from gateway.store.limits import Admission

    # (body bytes, the chat view, reachable deployments) -> worst-case micro-dollars.
    Estimate = Callable[[int, ChatCompletionRequest, Sequence[Deployment]], int]

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(frozen=True, slots=True)
class Intake:
    """What every OpenAI-shaped route reads first: who asks, the body (its routing
    fields, cache controls and tags taken out and checked, its caller strings bounded),
    before its own validation."""

    request_id: str
    started: float
    caller: Caller
    body_bytes: int
    data: dict[str, Any]
    route: RouteRequest
    cache_controls: CacheControls
    tags: tuple[str, ...]

    def prepared(
        self,
        chat: ChatCompletionRequest,
        cache_shape: CacheShape = CHAT,
        endpoint: Endpoint = "chat",
        estimate: Estimate = worst_case_micros,
    ) -> Prepared:
        return Prepared(
            self.request_id,
            self.started,
            self.caller,
            self.body_bytes,
            self.route,
            chat,
            self.tags,
            self.cache_controls,
            cache_shape,
            endpoint,
            estimate,
        )


async def intake(request: Request) -> Intake:
    rid = request_id(request)
    started = time.time()
    caller = await authenticate(request)
    raw = await read_body(request)
    data = parse_json(raw)
    reject_routing_overrides(data, list(request.query_params.keys()))
    bounds.check(data)
    route = routing.options(data)
    cache_controls = caching.controls(request, data, caller)
    tags = bounds.tags_of(data)
    if access_log.prompts_logged():
        request.state.body = raw
    return Intake(rid, started, caller, len(raw), data, route, cache_controls, tags)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated request, ready for the pipeline."""

    request_id: str
    started: float
    caller: Caller
    body_bytes: int
    route: RouteRequest
    chat: ChatCompletionRequest
    tags: tuple[str, ...]
    cache_controls: CacheControls
    cache_shape: CacheShape = CHAT  # what the response cache stores and replays
    endpoint: Endpoint = "chat"
    estimate: Estimate = worst_case_micros


def text_view(model: str, text: str, user: str | None) -> ChatCompletionRequest:
    """The chat view of a request that is not a chat (embeddings, rerank): the text that
    routing sizes against a context window as one user message, and no output. Its
    price is the route's own `Prepared.estimate`, from the whole body."""
    from gateway.schemas.openai import ChatCompletionRequest

    message = {"role": "user", "content": text}
    return ChatCompletionRequest.model_validate(
        {"model": model, "messages": [message], "max_tokens": 1, "user": user}
    )


async def serve(request: Request, prepared: Prepared) -> Response:
    rid, caller, route = prepared.request_id, prepared.caller, prepared.route
    chat = prepared.chat
    config = await gateway_config()
    router_settings = routing.settings(config)
    model = access.model_for(caller, config, chat.model)
    require(config.groups.get(model, ()), prepared.endpoint, chat.model)
    requested = chat.model
    if model != chat.model:
        chat = chat.model_copy(update={"model": model})
    cache = caching.plan(
        request, config, caller, chat, prepared.cache_controls, prepared.cache_shape
    )
    holds = _holds(caller, config, router_settings, route, chat, prepared)
    account = Account(
        rid, prepared.started, caller, requested, bool(chat.stream), chat.user, prepared.tags
    )
    request.state.account = account  # for the request's telemetry
    account.admission = admission = await access.admit(request, caller, rid, holds)
    replace_etag = None
    try:
        if cache is not None:
            cached, replace_etag = await caching.hit(request, cache, chat, rid)
            if cached is not None:
                cached.headers.update(admission.headers)
                return Finishing(cached, _hit_finished(request, account, admission))
        outcome = await routing.router(request).complete(
            chat,
            config,
            router_settings,
            rid,
            route=route,
            allows=lambda name: access.allows(caller, config, name, name),
            default_timeout_s=settings().upstream_timeout_s,
            record=cache is not None and not cache.controls.no_store,
            journey=account.journey,
        )
    except BaseException as exc:
        account.failure = _failure(exc)
        with anyio.CancelScope(shield=True):  # also when the client left (cancellation)
            await admission.release(0)
            await account.close(request, None)
        raise
    account.answered = time.time()
    outcome.on_end.append(admission.release)
    outcome.on_failure.append(_failed(account))
    outcome.on_end.append(_spent(request, account, outcome))
    if cache is not None:
        caching.remember(request, cache, outcome, replace_etag)
    headers = {**admission.headers, **outcome.headers}
    if outcome.stream is not None:
        return KeepAliveStreamingResponse(
            outcome.stream,
            interval=settings().sse_keepalive_s,
            on_close=_closer(outcome),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )
    answer = Response(outcome.body, media_type="application/json", headers=headers)
    return Finishing(answer, outcome.ended)


def _holds(
    caller: Caller,
    config: GatewayConfig,
    router_settings: RouterSettings,
    route: RouteRequest,
    chat: ChatCompletionRequest,
    prepared: Prepared,
) -> list[Hold]:
    """The request's budget holds: its worst-case cost on every level with a budget (a
    model with no known price is refused there unless the config allows it)."""
    levels = access.budgets(caller)
    amount = 0
    if any(level.max_micros is not None for level in levels):
        deployments = reachable_deployments(chat.model, config, router_settings, route.fallbacks)
        if not config.allow_unpriced_models_with_budgets:
            require_priced(deployments)
        amount = prepared.estimate(prepared.body_bytes, chat, deployments)
    now = prepared.started
    return [level.hold(now, amount if level.max_micros is not None else 0) for level in levels]


def _failure(exc: BaseException) -> errors.GatewayError:
    """How a request that failed before its answer ended, for its spend log."""
    if isinstance(exc, errors.GatewayError):
        return exc
    if isinstance(exc, anyio.get_cancelled_exc_class()):  # the client left while it waited
        return errors.ClientClosedError("The client left before the answer.")
    return errors.InternalError("The request failed.")


def _hit_finished(
    request: Request, account: Account, admission: Admission
) -> Callable[[], Awaitable[None]]:
    async def finished() -> None:
        await admission.release(0)
        await account.close(request, None, cache_hit=True)

    return finished


def _failed(account: Account) -> Callable[[errors.GatewayError], Awaitable[None]]:
    async def failed(error: errors.GatewayError) -> None:
        account.failure = error

    return failed


def _spent(
    request: Request, account: Account, outcome: Outcome
) -> Callable[[int], Awaitable[None]]:
    async def spent(_tokens: int) -> None:
        await account.close(request, outcome)

    return spent


def _closer(outcome: Outcome) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        try:
            if outcome.close is not None:
                await outcome.close()
        finally:
            await outcome.ended()

    return close
