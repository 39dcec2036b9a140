"""Embeddings wire: Gemini (Google AI Studio) through Google's OpenAI-compatible
`POST {api_base}/v1beta/openai/embeddings` (https://ai.google.dev/gemini-api/docs/openai:
the key as a bearer token), so `gemini/gemini-embedding-001` embeds as it did when the
`gemini` row spoke only that API. OpenAI's body and answer (gateway/embeddings/openai.py).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from gateway.embeddings import openai

if TYPE_CHECKING:
    from gateway.embeddings.request import EmbeddingsRequest
    from gateway.providers.spec import Target, UpstreamRequest

OPENAI_PATH = "/v1beta/openai"
parse = openai.parse


def calls(request: EmbeddingsRequest, target: Target) -> list[UpstreamRequest]:
    compatible = dataclasses.replace(target, api_base=target.api_base.rstrip("/") + OPENAI_PATH)
    return openai.calls(request, compatible)
