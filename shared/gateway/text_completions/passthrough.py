"""The Speaker for completion-mode deployments: the client's body to the provider's
OpenAI-compatible `POST /completions`, its answer and stream as they come.

Reference: OpenAI's CreateCompletionRequest/Response. As for chat, the gateway
replaces `model`, asks a stream for its usage chunk (usage drives cost; the client
sees it only if it asked) and brands the answer with its own id and the client's
model name. Stream events parse as chat's do (gateway/providers/openai.py): the
same envelope, choices, finish reasons, usage chunk and [DONE].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures, openai
from gateway.providers.catalog import endpoint_url
from gateway.providers.spec import Completion, TokenUsage, UpstreamRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.spec import ResponseMeta, Target
    from gateway.schemas.openai import ChatCompletionRequest

FINISH_REASONS = ("stop", "length", "content_filter")


def url(api_base: str) -> str:
    """LiteLLM accepts api_base with or without the endpoint path."""
    return endpoint_url(api_base, "/completions")


@dataclass(frozen=True, slots=True)
class TextSpeaker:
    body: Mapping[str, Any]  # the client's

    def build_request(self, request: ChatCompletionRequest, target: Target) -> UpstreamRequest:
        body: dict[str, Any] = {**self.body, "model": target.model}
        stream = bool(request.stream)
        if stream:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        headers = {"content-type": "application/json"}
        if target.api_key:
            headers["authorization"] = f"Bearer {target.api_key}"
        return UpstreamRequest(url=url(target.api_base), body=body, headers=headers, stream=stream)

    def parse_response(self, body: bytes, meta: ResponseMeta) -> Completion:
        data = failures.json_object(body)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise errors.UpstreamError("The provider sent a completion without choices.")
        for choice in choices:
            if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
                raise errors.UpstreamError("The provider sent a malformed choice.")
            if choice.get("finish_reason") not in FINISH_REASONS:
                choice["finish_reason"] = "stop"
        data.update(id=meta.id, model=meta.model, object="text_completion", created=meta.created)
        usage = openai.usage_of(data.get("usage")) or TokenUsage()
        return Completion(response=data, usage=usage)

    new_stream_state = staticmethod(openai.new_stream_state)
    parse_stream_event = staticmethod(openai.parse_stream_event)
    finish_stream = staticmethod(openai.finish_stream)
    map_error = staticmethod(openai.map_error)
