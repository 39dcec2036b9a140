"""How a Responses answer is written on the wire: the Response body, or its events.

A native stream is relayed event by event (numbered by OpenAI); a translated one is
written by the chat translation (gateway/responses/from_chat.py), numbered by it. The
terminal event goes out in the tail, after the response is stored (gateway/responses/
turn.py). A stream that fails after its first event ends with an `error` event and
`response.failed` carrying the response as it stood.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gateway.completions import cost_comment
from gateway.providers import sse
from gateway.responses import from_chat
from gateway.responses.objects import error_object, response_skeleton
from gateway.responses.turn import TERMINAL

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.errors import GatewayError
    from gateway.providers.spec import ResponseMeta, TokenUsage
    from gateway.responses.turn import Turn
    from gateway.schemas.openai import ChatCompletionRequest

ID_PREFIX = "resp_"


def written(events: list[dict[str, Any]]) -> bytes:
    return b"".join(sse.encode_event(event["type"], event) for event in events)


def error_event(turn: Turn, error: GatewayError) -> dict[str, Any]:
    return turn.stamp(
        {"type": "error", "code": error.code, "message": error.message, "param": error.param}
    )


def failure_events(turn: Turn, error: GatewayError) -> list[dict[str, Any]]:
    """A relayed stream failed: `error`, then response.failed with the last snapshot."""
    events = [error_event(turn, error)]
    if turn.snapshot is not None:
        failed = {
            **turn.snapshot,
            "status": "failed",
            "error": error_object(error.code, error.message),
        }
        events.append(turn.stamp({"type": "response.failed", "response": failed}))
    return events


class _Surface:
    """What both write last: the events held until the response was kept, and the cost."""

    id_prefix = ID_PREFIX

    def __init__(self, turn: Turn) -> None:
        self.turn = turn

    def tail(
        self,
        request: ChatCompletionRequest,
        meta: ResponseMeta,
        usage: TokenUsage | None,
        cost: int | None,
    ) -> bytes:
        del request, meta, usage
        held, self.turn.held = self.turn.held, []
        return written(held) + cost_comment(cost)


class NativeSurface(_Surface):
    """OpenAI's own events, relayed; the terminal one held until the response is kept."""

    def encode(self, item: Any) -> bytes:
        if item.get("type") in TERMINAL:
            self.turn.held.append(item)  # sent in the tail, once the response is kept
            return b""
        return sse.encode_event(str(item.get("type", "message")), item)

    def body(self, response: Any) -> bytes:
        return sse.dumps(response)

    def error(self, error: GatewayError) -> bytes:
        return written(failure_events(self.turn, error))


class TranslatedSurface(_Surface):
    """A chat answer written as a Response, or chat chunks as Responses events."""

    def __init__(self, turn: Turn, body: Mapping[str, Any]) -> None:
        super().__init__(turn)
        self.request_body = body
        self.events: from_chat.ChatEvents | None = None

    def _skeleton(self, response_id: str, model: str, created: int) -> dict[str, Any]:
        return response_skeleton(
            self.request_body,
            response_id=response_id,
            model=model,
            created_at=created,
            status="in_progress",
        )

    def encode(self, item: Any) -> bytes:
        out: list[dict[str, Any]] = []
        if self.events is None:
            skeleton = self._skeleton(item["id"], item["model"], item["created"])
            self.events = from_chat.ChatEvents(skeleton, item_suffix=_suffix(item["id"]))
            out += self.events.start()
        out += self.events.feed(item)
        return written(out)

    def body(self, response: Any) -> bytes:
        skeleton = self._skeleton(response["id"], response["model"], response["created"])
        final = from_chat.response_from_completion(
            response, skeleton, item_suffix=_suffix(response["id"]), completed_at=int(time.time())
        )
        self.turn.final = final
        return sse.dumps(final)

    def close(self, meta: ResponseMeta, usage: TokenUsage | None) -> None:
        """The stream ended complete: its closing events wait in the turn."""
        if self.events is None:  # the provider ended the stream without a chunk
            skeleton = self._skeleton(meta.id, meta.model, meta.created)
            self.events = from_chat.ChatEvents(skeleton, item_suffix=_suffix(meta.id))
            self.turn.held += self.events.start()
        self.turn.held += self.events.end(usage, completed_at=int(time.time()))
        self.turn.final = self.events.final

    def error(self, error: GatewayError) -> bytes:
        if self.events is None:
            return written(failure_events(self.turn, error))
        self.turn.next_sequence = self.events.next_sequence
        events = [error_event(self.turn, error)]
        self.events.next_sequence = self.turn.next_sequence
        return written(events + self.events.failed(error.code, error.message))


def _suffix(response_id: str) -> str:
    return response_id.removeprefix(ID_PREFIX)
