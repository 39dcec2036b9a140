"""POST /v1/embeddings (and /embeddings): OpenAI's embeddings API.

For `client.embeddings.create` with a virtual key. The request runs the chat pipeline
(keys, model access, limits, budgets, router, cache, spend): its inputs' text is the
view that routing sizes, rate limits count its input tokens, and its budget hold is
bounded by its input alone (every input token at the largest input price, no output).
Each deployment is called on its provider's wire (gateway/embeddings/call.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from gateway.http.pipeline import intake, serve, text_view

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.config import Deployment
    from gateway.schemas.openai import ChatCompletionRequest


async def embeddings(request: Request) -> Response:
    from gateway.cache.body_shape import BodyShape
    from gateway.embeddings.call import EmbeddingsCall
    from gateway.embeddings.request import validate_embeddings

    taken = await intake(request)
    parsed = validate_embeddings(taken.data)
    taken.route.call = EmbeddingsCall(parsed)
    # Each input has its own context window: routing sizes the longest one.
    view = text_view(parsed.model, max(parsed.texts, key=len, default=""), parsed.user)
    shape = BodyShape("embeddings", taken.data)
    return await serve(request, taken.prepared(view, shape, "embeddings", _input_bound))


def _input_bound(
    body_bytes: int, chat: ChatCompletionRequest, deployments: Sequence[Deployment]
) -> int:
    """Every input token is at least one byte of the body (a token id at least a digit)."""
    from gateway.spend.estimate import input_bound_micros

    del chat
    return input_bound_micros(body_bytes, deployments)


routes = [
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/embeddings", embeddings, methods=["POST"]),
]
