"""POST /v1/completions (and /completions): OpenAI's legacy completions API.

For older code and `client.completions.create`, with a virtual key. The request runs
the chat pipeline (keys, limits, budgets, router, cache, spend), priced, sized and
routed by its chat view (the prompt as one user message, `max(n, best_of)` per
prompt, max_tokens 16 by default); each deployment then gets the client's body
(completion-mode models) or the chat translation (chat models), streamed or not
(gateway/text_completions/call.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.routing import Route

from gateway.http import caching, routing
from gateway.http.accounting import tags_of
from gateway.http.auth import authenticate
from gateway.http.body import parse_json, read_body, reject_routing_overrides
from gateway.http.ids import request_id
from gateway.http.pipeline import Prepared, serve

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


async def completions(request: Request) -> Response:
    from gateway.text_completions.cache_shape import TextShape
    from gateway.text_completions.call import TextCall
    from gateway.text_completions.request import validate_completions

    rid = request_id(request)
    started = time.time()
    caller = await authenticate(request)
    raw = await read_body(request)
    data = parse_json(raw)
    reject_routing_overrides(data, list(request.query_params.keys()))
    route = routing.options(data)
    cache_controls = caching.controls(request, data, caller)
    tags = tags_of(data)
    parsed = validate_completions(data)
    route.call = TextCall(parsed)
    shape = TextShape(parsed.body)
    prepared = Prepared(
        rid,
        started,
        caller,
        len(raw),
        route,
        parsed.chat,
        tags,
        cache_controls,
        shape,
        "completions",
    )
    return await serve(request, prepared)


routes = [
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/completions", completions, methods=["POST"]),
]
