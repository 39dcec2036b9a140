"""The response cache on the request path: look up before routing, remember after.

A request is cacheable when the config turns the cache on and the stack has its
bucket. Its key is a fingerprint of everything that can change the answer, inside a
tenant namespace (the caller's team, or its key, per `namespace_by`; the master key
has its own), never a key. A hit is answered from S3 in the shape asked for: a
stream replays as a stream. A miss is routed as usual, and a complete successful
answer is written in the background (a write that fails, or a sandbox frozen before
it ends, costs only a future miss). S3 errors never fail a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from gateway.cache.controls import check_allowed, parse_controls
from gateway.cache.settings import MAX_TTL_S, parse_cache_settings
from gateway.cache.shape import CHAT
from gateway.config import settings
from gateway.errors import GatewayError
from gateway.http.dependencies import derived
from gateway.providers.spec import ResponseMeta
from gateway.spend.cost import format_usd

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from starlette.requests import Request

    from gateway.cache.controls import CacheControls
    from gateway.cache.keys import CacheKey
    from gateway.cache.settings import CacheSettings
    from gateway.cache.shape import CacheShape
    from gateway.cache.store import ResponseCache
    from gateway.completions import Outcome
    from gateway.config import GatewayConfig
    from gateway.http.auth import Caller
    from gateway.schemas.openai import ChatCompletionRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachePlan:
    """What the cache does for one request."""

    key: CacheKey
    controls: CacheControls
    ttl_s: float
    store: ResponseCache
    shape: CacheShape


def controls(request: Request, data: dict[str, Any], caller: Caller) -> CacheControls:
    """Take the cache controls out of the body (and headers), as the key allows them."""
    found = parse_controls(data, request.headers)
    if caller.identity is not None:
        check_allowed(found, caller.identity.key.allowed_cache_controls)
    return found


def _store(request: Request) -> ResponseCache | None:
    bucket = settings().cache_bucket
    if not bucket:
        return None
    from gateway.cache.store import ResponseCache

    current: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    if current is None or current.bucket != bucket:
        current = ResponseCache(bucket)
        request.app.state.response_cache = current
    return current


def _namespace(caller: Caller, config: CacheSettings, controls: CacheControls) -> str:
    identity = caller.identity
    if identity is None:
        tenant = "master"
    elif config.namespace_by == "team" and identity.key.team_id:
        tenant = f"team:{identity.key.team_id}"
    else:
        tenant = f"key:{identity.key.key_id or identity.key.token}"
    if config.prefix:
        tenant = f"{config.prefix}/{tenant}"
    return f"{tenant}/ns:{controls.namespace}" if controls.namespace else tenant


def plan(
    request: Request,
    config: GatewayConfig,
    caller: Caller,
    chat: ChatCompletionRequest,
    found: CacheControls,
    shape: CacheShape = CHAT,
) -> CachePlan | None:
    """The cache plan for this request, or None when there is no cache."""
    cache_settings = derived(config, parse_cache_settings, "cache settings")
    store = _store(request) if cache_settings.enabled else None
    if store is None:
        return None
    from gateway.cache.keys import defaults_source

    group = config.groups.get(chat.model, ())
    key = shape.key(
        chat,
        model_group=chat.model,
        providers=frozenset(defaults_source(d.target) for d in group),
        namespace=_namespace(caller, cache_settings, found),
    )
    ttl = min(found.ttl_s if found.ttl_s is not None else cache_settings.ttl_s, MAX_TTL_S)
    return CachePlan(key=key, controls=found, ttl_s=ttl, store=store, shape=shape)


async def hit(
    request: Request, cache: CachePlan, chat: ChatCompletionRequest, request_id: str
) -> tuple[Response | None, str | None]:
    """The answer from the cache, or None; and the etag of an entry to replace. The
    lookup's result goes to the request's metrics (gateway/telemetry/metrics.py)."""
    if cache.controls.no_cache:
        request.state.cache_lookup = "bypass"
        return None, None
    found = await cache.store.get(cache.key, max_age_s=cache.controls.s_maxage_s)
    request.state.cache_lookup = found.status
    if found.entry is None:
        return None, found.etag
    try:
        return _answer(cache, found.entry.body, chat, request_id), None
    except (KeyError, TypeError, IndexError, AttributeError, ValueError):  # JSON, not an answer
        logger.warning("cache entry %s cannot be replayed; treated as a miss", cache.key.id)
        request.state.cache_lookup = "corrupt"
        return None, found.entry.etag


def _answer(
    cache: CachePlan, entry: dict[str, Any], chat: ChatCompletionRequest, request_id: str
) -> Response:
    shape = cache.shape
    meta = ResponseMeta(
        id=f"{shape.id_prefix}{request_id}", created=int(time.time()), model=chat.model
    )
    headers = {
        "x-request-id": request_id,
        "x-gateway-cache": "hit",
        "x-gateway-cache-key": cache.key.id,
        "x-gateway-cost-usd": format_usd(0),
    }
    if chat.stream:
        events = shape.stream(entry, meta, with_usage=chat.wants_usage_chunk)
        return StreamingResponse(
            _replay(events),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", **headers},
        )
    return Response(shape.body(entry, meta), media_type="application/json", headers=headers)


async def _replay(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


def remember(
    request: Request, cache: CachePlan, outcome: Outcome, replace_etag: str | None
) -> None:
    """Arrange for a complete successful answer to be written (never a failed one)."""
    outcome.headers["x-gateway-cache"] = "bypass" if cache.controls.no_cache else "miss"
    outcome.headers["x-gateway-cache-key"] = cache.key.id
    if cache.controls.no_store:
        return
    if outcome.stream is None:
        if outcome.completion is not None:
            _keep(request, cache, cache.shape.entry_from_body, outcome.completion, replace_etag)
        return

    async def stream_done(done: Outcome) -> None:
        chunks = done.recorded
        if chunks is None or done.usage is None:
            return
        from gateway.completions import MAX_RECORDED_CHUNKS

        if len(chunks) >= MAX_RECORDED_CHUNKS:
            return  # not recorded whole
        usage = done.usage
        _keep(
            request, cache, lambda c: cache.shape.entry_from_stream(c, usage), chunks, replace_etag
        )

    outcome.on_complete.append(stream_done)


def _keep(
    request: Request,
    cache: CachePlan,
    entry_of: Callable[[Any], dict[str, Any]],
    answer: Any,
    replace_etag: str | None,
) -> None:
    """Write the entry of `answer`; an answer that makes no entry is not cached (and
    never fails the request that carried it)."""
    try:
        entry = entry_of(answer)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, GatewayError):
        logger.warning("answer for cache entry %s is not cacheable", cache.key.id)
        return
    _spawn(request, cache, entry, replace_etag)


def _spawn(
    request: Request, cache: CachePlan, entry: dict[str, Any], replace_etag: str | None
) -> None:
    pending: set[asyncio.Task[bool]] | None = getattr(request.app.state, "cache_writes", None)
    if pending is None:
        pending = request.app.state.cache_writes = set()
    task = asyncio.create_task(
        cache.store.put(cache.key, entry, ttl_s=cache.ttl_s, replace_etag=replace_etag)
    )
    pending.add(task)
    task.add_done_callback(pending.discard)
