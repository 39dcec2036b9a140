"""POST /v1/completions (and /completions): OpenAI's legacy completions API.

For older code and `client.completions.create`, with a virtual key. The request runs
the chat pipeline (keys, limits, budgets, router, cache, spend), priced, sized and
routed by its chat view (the prompt as one user message, `max(n, best_of)` per
prompt, max_tokens 16 by default); each deployment then gets the client's body
(completion-mode models) or the chat translation (chat models), streamed or not
(gateway/text_completions/call.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from gateway.http.pipeline import intake, serve

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


async def completions(request: Request) -> Response:
    from gateway.text_completions.cache_shape import TextShape
    from gateway.text_completions.call import TextCall
    from gateway.text_completions.request import validate_completions

    taken = await intake(request)
    parsed = validate_completions(taken.data)
    taken.route.call = TextCall(parsed)
    prepared = taken.prepared(parsed.chat, TextShape(parsed.body), "completions")
    return await serve(request, prepared)


routes = [
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/completions", completions, methods=["POST"]),
]
