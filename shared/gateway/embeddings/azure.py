"""Embeddings wire: Azure OpenAI's `POST .../embeddings`, OpenAI's body and answer
(gateway/embeddings/openai.py) at Azure's URL with Azure's credentials.

Reference: the 2024-10-21 inference spec's `/deployments/{deployment-id}/embeddings`
(api-version required) and the v1 API's `/openai/v1/embeddings`; URL, api-version and
credential rules are the chat dialect's (gateway/providers/azure/endpoint.py).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from gateway.embeddings import openai
from gateway.providers.azure import endpoint

if TYPE_CHECKING:
    from gateway.embeddings.request import EmbeddingsRequest
    from gateway.providers.spec import Target, UpstreamRequest

parse = openai.parse


def calls(request: EmbeddingsRequest, target: Target) -> list[UpstreamRequest]:
    return [
        dataclasses.replace(
            call,
            url=endpoint.url(target, "embeddings"),
            headers=endpoint.headers(target),
            oauth=endpoint.grant(target),
        )
        for call in openai.calls(request, target)
    ]
