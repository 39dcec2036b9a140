"""POST /v1/rerank (and /rerank, /v2/rerank): Cohere's rerank API, as LiteLLM serves it.

The request runs the chat pipeline (keys, model access, limits, budgets, router, cache,
spend): its query and documents are the text that routing sizes and rate limits
count; its budget hold bounds both the tokens and the search units it can be billed
(gateway/rerank/answer.py). Each deployment is called on its provider's wire
(gateway/rerank/call.py). Errors are OpenAI-shaped, as everywhere.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from starlette.routing import Route

from gateway.http.pipeline import intake, serve, text_view

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

    taken = await intake(request)
    data = taken.data
    parsed = validate_rerank(data)
    taken.route.call = RerankCall(parsed)
    user = data.get("user") if isinstance(data.get("user"), str) else None
    # A reranker scores the query with each document: routing sizes the longest pair.
    longest = max(parsed.texts, key=len)
    view = text_view(parsed.model, f"{parsed.query}\n{longest}", user)
    shape = BodyShape("rerank", data)
    estimate = functools.partial(_worst_case, parsed)
    return await serve(request, taken.prepared(view, shape, "rerank", estimate))


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
