"""The request: OpenAI's chat body (passthrough, as gateway/providers/openai.py sends it)
at Azure's URL with Azure's credentials (endpoint.py).

The body's `model` is the deployment (the v1 API routes by it; the dated API ignores it,
as Azure's own SDK sends it); `metadata` is the gateway's and is never sent. A stream
asks for its usage chunk wherever the API version has stream_options (usage drives
cost; the client sees the chunk only if it asked); elsewhere (Foundry's Model
Inference API, dated versions before stream_options) none is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.providers import openai
from gateway.providers.azure import endpoint
from gateway.providers.spec import UpstreamRequest

if TYPE_CHECKING:
    from gateway.providers.params import ParamTable
    from gateway.providers.spec import Target
    from gateway.schemas.openai import ChatCompletionRequest

PARAMS: ParamTable | None = None  # passthrough, as OpenAI's
NEEDS_A_TURN = False  # a system message alone is a valid chat request
# Azure OpenAI's 2024-10-21 inference spec (createChatCompletionRequest): temperature and
# top_p `default: 1`, n `default: 1`, presence_penalty and frequency_penalty `default: 0`:
# OpenAI's. They hold for the `azure` row only; Foundry's models each have their own.
SAMPLING_DEFAULTS = openai.SAMPLING_DEFAULTS
_GATEWAY_ONLY = ("metadata",)

configure = endpoint.configure


def build_request(request: ChatCompletionRequest, target: Target) -> UpstreamRequest:
    body: dict[str, Any] = request.model_dump(exclude_unset=True, by_alias=True)
    for name in _GATEWAY_ONLY:
        body.pop(name, None)
    body["model"] = target.model
    stream = bool(request.stream)
    if stream and endpoint.streams_usage(target):
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    elif stream:
        # Refused there; the pipeline still writes the usage chunk a client asks for.
        body.pop("stream_options", None)
    return UpstreamRequest(
        url=endpoint.url(target, "chat/completions"),
        body=body,
        headers=endpoint.headers(target),
        stream=stream,
        oauth=endpoint.grant(target),
    )
