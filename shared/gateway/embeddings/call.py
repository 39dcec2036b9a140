"""How one deployment is called for an embeddings request (the router's `Attempt`).

The wire is the provider's (gateway/embeddings/openai.py for OpenAI-compatible APIs,
azure.py for Azure OpenAI's, gemini.py for Gemini's, bedrock.py for Bedrock's models);
the answer is OpenAI's CreateEmbeddingResponse under the model name the client asked
for, priced by its input tokens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway import direct, errors
from gateway.embeddings import vectors
from gateway.endpoints import check
from gateway.providers.spec import TokenUsage
from gateway.spend.cost import cost_micros

if TYPE_CHECKING:
    from gateway.completions import Outcome
    from gateway.config import Deployment
    from gateway.embeddings.request import EmbeddingsRequest, EmbeddingsWire
    from gateway.schemas.openai import ChatCompletionRequest


def wire(deployment: Deployment) -> EmbeddingsWire:
    if deployment.target.dialect == "bedrock":
        from gateway.embeddings import bedrock

        return bedrock
    if deployment.target.dialect == "azure":
        from gateway.embeddings import azure

        return azure
    if deployment.target.dialect == "gemini":
        from gateway.embeddings import gemini

        return gemini
    from gateway.embeddings import openai

    return openai


@dataclass(frozen=True, slots=True)
class EmbeddingsCall:
    request: EmbeddingsRequest

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
        del first_byte_s  # never streamed
        check(deployment, "embeddings")
        started = time.monotonic()
        speaks = wire(deployment)
        upstreams = speaks.calls(self.request, deployment.target)
        answers = await direct.send(upstreams, deployment, timeout_s)
        try:
            embedded = speaks.parse(self.request, answers)
        except errors.GatewayError as exc:
            raise direct.parsed(exc, deployment) from None
        usage = TokenUsage(input_tokens=embedded.input_tokens)
        body = vectors.response(request.model, embedded.embeddings, embedded.input_tokens)
        cost = cost_micros(usage, deployment)
        dropped = upstreams[0].dropped_params
        return direct.outcome(
            request_id,
            deployment,
            body,
            usage,
            cost,
            started=started,
            record=record,
            dropped=dropped,
        )
