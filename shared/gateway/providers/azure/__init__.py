"""Dialect: Azure OpenAI (`azure/<deployment>`) and Azure AI Foundry (`azure_ai/<model>`).

Both speak OpenAI's chat completions (gateway/providers/openai.py parses the answers);
Azure's own are the URL, the api-version, the credentials and content filtering.

References: Azure OpenAI REST API, data-plane inference 2024-10-21 (the latest GA;
learn.microsoft.com/azure/ai-foundry/openai/reference and Azure/azure-rest-api-specs
specification/cognitiveservices/data-plane/AzureOpenAI/inference/stable/2024-10-21),
the v1 API (learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle), and
the Azure AI Model Inference API 2024-05-01-preview
(learn.microsoft.com/azure/ai-foundry/model-inference/reference).

endpoint.py  URL, api-version and credential rules; configure
request.py   PARAMS, SAMPLING_DEFAULTS, build_request
stream.py    the stream, with Azure's content-filter annotations
errors.py    ERRORS, map_error (content filter, DeploymentNotFound)
"""

from __future__ import annotations

from gateway.providers.azure.errors import ERRORS, map_error
from gateway.providers.azure.request import (
    NEEDS_A_TURN,
    PARAMS,
    SAMPLING_DEFAULTS,
    build_request,
    configure,
)
from gateway.providers.azure.stream import finish_stream, new_stream_state, parse_stream_event
from gateway.providers.openai import FINISH_REASONS, parse_response

__all__ = [
    "ERRORS",
    "FINISH_REASONS",
    "NEEDS_A_TURN",
    "PARAMS",
    "SAMPLING_DEFAULTS",
    "build_request",
    "configure",
    "finish_stream",
    "map_error",
    "new_stream_state",
    "parse_response",
    "parse_stream_event",
]
