"""How one deployment is called for a rerank request (the router's `Attempt`).

The wire is the provider's: Bedrock's rerank models (gateway/rerank/bedrock.py),
Cohere's own API (cohere.py), else an OpenAI-compatible rerank server (compatible.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway import direct, errors
from gateway.endpoints import check
from gateway.providers.spec import TokenUsage
from gateway.rerank.answer import answer, cost

if TYPE_CHECKING:
    from gateway.completions import Outcome
    from gateway.config import Deployment
    from gateway.rerank.request import RerankRequest, RerankWire
    from gateway.schemas.openai import ChatCompletionRequest

COHERE_PROVIDERS = frozenset({"cohere", "cohere_chat"})


def wire(deployment: Deployment) -> RerankWire:
    target = deployment.target
    if target.dialect == "bedrock":
        from gateway.rerank import bedrock

        return bedrock
    if target.provider in COHERE_PROVIDERS:
        from gateway.rerank import cohere

        return cohere
    from gateway.rerank import compatible

    return compatible


@dataclass(frozen=True, slots=True)
class RerankCall:
    request: RerankRequest

    async def __call__(
        self,
        request: ChatCompletionRequest,
        deployment: Deployment,
        request_id: str,
        *,
        timeout_s: float,
        first_byte_s: float,
        record: bool = False,
    ) -> Outcome:
        del request, first_byte_s  # never streamed; the rerank request says it all
        check(deployment, "rerank")
        started = time.monotonic()
        speaks = wire(deployment)
        upstream = speaks.call(self.request, deployment.target)
        (raw,) = await direct.send([upstream], deployment, timeout_s)
        try:
            reranked = speaks.parse(self.request, raw)
        except errors.GatewayError as exc:
            raise direct.parsed(exc, deployment) from None
        usage = TokenUsage(input_tokens=reranked.input_tokens)
        body = answer(request_id, self.request, reranked)
        price = cost(usage, reranked.search_units, deployment)
        return direct.outcome(
            request_id,
            deployment,
            body,
            usage,
            price,
            started=started,
            record=record,
            dropped=upstream.dropped_params,
        )
