"""POST /v1/chat/completions (and /chat/completions).

A plain Starlette route: the handler reads and validates the body itself, so
FastAPI's parameter machinery (about 0.2 ms a request) has nothing to do.
Authenticate and validate here (bad input changes nothing); the rest is the shared
pipeline (gateway/http/pipeline.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.routing import Route

from gateway.http import caching, routing
from gateway.http.accounting import tags_of
from gateway.http.auth import authenticate
from gateway.http.body import parse_json, read_body, reject_routing_overrides, validate_chat
from gateway.http.ids import request_id
from gateway.http.pipeline import Prepared, serve

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


async def chat_completions(request: Request) -> Response:
    rid = request_id(request)
    started = time.time()
    caller = await authenticate(request)
    raw = await read_body(request)
    data = parse_json(raw)
    reject_routing_overrides(data, list(request.query_params.keys()))
    route = routing.options(data)
    cache_controls = caching.controls(request, data, caller)
    tags = tags_of(data)
    chat = validate_chat(data)
    prepared = Prepared(rid, started, caller, len(raw), route, chat, tags, cache_controls)
    return await serve(request, prepared)


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/chat/completions", chat_completions, methods=["POST"]),
]
