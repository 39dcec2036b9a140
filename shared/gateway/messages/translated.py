"""The Messages API's shapes for an answer that came through chat (any non-Claude model).

The chat pipeline runs as for /v1/chat/completions; this surface writes its answer
as an Anthropic Message, or its chunks as Anthropic events
(gateway/messages/from_chat.py), with the usage in message_delta at the end: the
chat stream's usage arrives last, so message_start carries zero input tokens and
message_delta the real counts (the anthropic SDK takes both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.completions import cost_comment
from gateway.messages import errors as shapes
from gateway.messages import from_chat
from gateway.providers import sse

if TYPE_CHECKING:
    from gateway.errors import GatewayError
    from gateway.providers.spec import ResponseMeta, TokenUsage
    from gateway.schemas.openai import ChatCompletionRequest


class TranslatedSurface:
    """One attempt's output: it keeps the stream's block state, so one per attempt."""

    id_prefix = "msg_"

    def __init__(self) -> None:
        self.events: from_chat.ChatEvents | None = None

    def encode(self, item: Any) -> bytes:
        if self.events is None:
            self.events = from_chat.ChatEvents(message_id=item["id"], model=item["model"])
        return _written(self.events.feed(item))

    def body(self, response: Any) -> bytes:
        message = from_chat.message_from_completion(
            response, message_id=response["id"], model=response["model"]
        )
        return sse.dumps(message)

    def error(self, error: GatewayError) -> bytes:
        return shapes.event(error)

    def tail(
        self,
        request: ChatCompletionRequest,
        meta: ResponseMeta,
        usage: TokenUsage | None,
        cost: int | None,
    ) -> bytes:
        del request
        if self.events is None:  # the provider ended the stream without a chunk
            self.events = from_chat.ChatEvents(message_id=meta.id, model=meta.model)
        return _written(self.events.end(usage)) + cost_comment(cost)


def _written(events: list[dict[str, Any]]) -> bytes:
    return b"".join(sse.encode_event(event["type"], event) for event in events)
