"""The response cache for the Responses API: entries are finished Response objects.

The key is the request's whole body with its conversation resolved (the stored
items `previous_response_id` names, replayed as the provider would see them, instead
of the id, which differs every turn), less what only frames the call (`store`,
`stream`, `metadata`, `user`), apart from every chat and Messages entry. A plain answer
is stored as its Response; a stream as the Response its terminal event carried (the
native path) or its chat chunks translated (the translated path). A hit is that
Response under the new request's id, model, time and echoed fields, its items
renumbered under the new id, except encrypted reasoning: OpenAI takes it back only
under the id it issued (which also gives a follow-up to a hit the key of the same
follow-up to the original). A streamed request gets the events it unfolds into
(gateway/responses/unfold.py). The Response served is kept in `served` so the
route can store it like any other answer.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from gateway.cache.keys import body_fingerprint
from gateway.providers import sse
from gateway.responses import from_chat
from gateway.responses.native import upstream_input
from gateway.responses.objects import response_skeleton, usage_object
from gateway.responses.turn import TERMINAL
from gateway.responses.unfold import unfold

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.cache.keys import CacheKey
    from gateway.providers.spec import ResponseMeta, TokenUsage
    from gateway.schemas.openai import ChatCompletionRequest

FRAMING = frozenset({"store", "stream", "stream_options", "previous_response_id"})
KEPT = frozenset({"status", "output", "usage", "incomplete_details"})  # of the answer
ITEM_PREFIXES = {"message": "msg", "function_call": "fc", "reasoning": "rs"}


class ResponsesShape:
    id_prefix = "resp_"

    def __init__(self, body: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> None:
        self.request_body = body
        self.history = history
        self.served: dict[str, Any] | None = None

    def key(
        self,
        chat: ChatCompletionRequest,
        *,
        model_group: str,
        providers: frozenset[str],
        namespace: str,
    ) -> CacheKey:
        del chat, providers  # the body says more than its chat view
        fields = {k: v for k, v in self.request_body.items() if k not in FRAMING}
        fields["input"] = upstream_input(self.request_body, self.history)
        return body_fingerprint(
            fields, api="responses", model_group=model_group, namespace=namespace
        )

    def _skeleton(self) -> dict[str, Any]:
        return response_skeleton(
            self.request_body, response_id="", model="", created_at=0, status="completed"
        )

    def entry_from_body(self, response: dict[str, Any]) -> dict[str, Any]:
        if response.get("object") == "chat.completion":  # the translated path's answer
            response = from_chat.response_from_completion(
                response, self._skeleton(), item_suffix=""
            )
        return {"response": _checked(response)}

    def entry_from_stream(self, recorded: list[Any], usage: TokenUsage) -> dict[str, Any]:
        if recorded and recorded[0].get("object") == "chat.completion.chunk":
            events = from_chat.ChatEvents(self._skeleton(), item_suffix="")
            events.start()
            for chunk in recorded:
                events.feed(chunk)
            events.end(usage)
            return {"response": _checked(events.final)}
        for event in reversed(recorded):
            if event.get("type") in TERMINAL:
                answer = dict(event["response"])
                answer["usage"] = answer.get("usage") or usage_object(usage)
                return {"response": _checked(answer)}
        raise ValueError("not a complete answer")

    def body(self, entry: dict[str, Any], meta: ResponseMeta) -> bytes:
        return sse.dumps(self._branded(entry, meta))

    def stream(self, entry: dict[str, Any], meta: ResponseMeta, *, with_usage: bool) -> list[bytes]:
        del with_usage  # the terminal event always carries the usage
        events = unfold(self._branded(entry, meta))
        return [sse.encode_event(event["type"], event) for event in events]

    def _branded(self, entry: dict[str, Any], meta: ResponseMeta) -> dict[str, Any]:
        cached = _checked(entry["response"])
        response = response_skeleton(
            self.request_body,
            response_id=meta.id,
            model=meta.model,
            created_at=meta.created,
            status=cached["status"],
        )
        response.update(copy.deepcopy({k: v for k, v in cached.items() if k in KEPT}))
        if response["status"] == "completed":
            response["completed_at"] = meta.created  # a hit completes as it is served
        suffix = meta.id.removeprefix(self.id_prefix)
        for number, item in enumerate(response["output"]):
            if item.get("type") == "reasoning" and item.get("encrypted_content"):
                continue  # OpenAI binds the encrypted content to the id it issued
            prefix = ITEM_PREFIXES.get(str(item.get("type")), "item")
            item["id"] = f"{prefix}_{suffix}_{number}"
        self.served = response
        return response


def _checked(response: Any) -> dict[str, Any]:
    if not isinstance(response, dict) or response.get("status") not in ("completed", "incomplete"):
        raise ValueError("not a finished response")
    if not isinstance(response.get("output"), list):
        raise ValueError("not a response")
    return {k: v for k, v in response.items() if k in KEPT}
