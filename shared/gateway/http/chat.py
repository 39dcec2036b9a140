"""POST /v1/chat/completions (and /chat/completions).

A plain Starlette route: the handler reads and validates the body itself, so
FastAPI's parameter machinery (about 0.2 ms a request) has nothing to do.
Authenticate and validate here (bad input changes nothing); the rest is the shared
pipeline (gateway/http/pipeline.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from gateway.http.body import validate_chat
from gateway.http.pipeline import intake, serve

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


async def chat_completions(request: Request) -> Response:
    taken = await intake(request)
    return await serve(request, taken.prepared(validate_chat(taken.data)))


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/chat/completions", chat_completions, methods=["POST"]),
]
