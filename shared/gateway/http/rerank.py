"""POST /v1/rerank (and /rerank, /v2/rerank): Cohere's rerank API, as LiteLLM serves it.

The request runs the chat pipeline (keys, model access, limits, budgets, router, cache,
spend): its query and documents are the text that routing sizes and rate limits
count; its budget hold bounds both the tokens and the search units it can be billed
(gateway/rerank/answer.py). Each deployment is called on its provider's wire
(gateway/rerank/call.py). Errors are OpenAI-shaped, as everywhere.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

from starlette.routing import Route

from gateway.http import caching, routing
from gateway.http.accounting import tags_of
from gateway.http.auth import authenticate
from gateway.http.body import parse_json, read_body, reject_routing_overrides
from gateway.http.ids import request_id
from gateway.http.pipeline import Prepared, serve, text_view

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.config import Deployment
    from gateway.rerank.request import RerankRequest
    from gateway.schemas.openai import ChatCompletionRequest


async def rerank(request: Request) -> Response:
    from gateway.cache.body_shape import BodyShape
    from gateway.rerank.call import RerankCall
    from gateway.rerank.request import validate_rerank

    rid = request_id(request)
    started = time.time()
    caller = await authenticate(request)
    raw = await read_body(request)
    data = parse_json(raw)
    reject_routing_overrides(data, list(request.query_params.keys()))
    route = routing.options(data)
    cache_controls = caching.controls(request, data, caller)
    tags = tags_of(data)
    parsed = validate_rerank(data)
    route.call = RerankCall(parsed)
    user = data.get("user") if isinstance(data.get("user"), str) else None
    view = text_view(parsed.model, "\n".join([parsed.query, *parsed.texts]), user)
    prepared = Prepared(
        rid,
        started,
        caller,
        len(raw),
        route,
        view,
        tags,
        cache_controls,
        BodyShape("rerank", data),
        "rerank",
        functools.partial(_worst_case, parsed),
    )
    return await serve(request, prepared)


def _worst_case(
    parsed: RerankRequest,
    body_bytes: int,
    chat: ChatCompletionRequest,
    deployments: Sequence[Deployment],
) -> int:
    from gateway.rerank.answer import worst_case

    del chat
    return worst_case(body_bytes, parsed, deployments)


routes = [Route(path, rerank, methods=["POST"]) for path in ("/v1/rerank", "/rerank", "/v2/rerank")]
