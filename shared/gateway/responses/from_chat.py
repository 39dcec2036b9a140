"""A chat answer -> a Response, or a chat chunk stream -> Responses API stream events.

References: https://platform.openai.com/docs/api-reference/responses/object and
https://platform.openai.com/docs/api-reference/responses-streaming, i.e. the components
`Response` and `ResponseStreamEvent` of OpenAI's OpenAPI document (version 2.3.0).

Decisions a reader could not guess:
- Item ids come from one suffix: rs_<s>, msg_<s>, fc_<s>_<i> (i: the chat tool-call
  index); a made-up call_id, for a call the provider sent without an id, is call_<s>_<i>.
  A kind that comes back in a stream (reasoning, text, reasoning) gets rs_<s>_1, ...
- Reasoning is a reasoning item with the raw text as a reasoning_text content part and
  `summary` [] (required; the provider wrote no summary), never encrypted_content.
- Chat's `refusal` is a refusal part of the message: after any text in a whole answer,
  in arrival order in a stream.
- finish_reason "length" -> status "incomplete", reason "max_output_tokens";
  "content_filter" -> "incomplete", reason "content_filter"; any other -> "completed".
  The items the cut interrupted (the last one, or the trailing run of function calls)
  say "incomplete", the others "completed", in both paths.
- Tool-call arguments go out as the provider wrote them: the Responses API carries a
  string, so JSON that does not parse is the client's to see, not a 502.
- In a stream, reasoning and message items are sequential: the next one closes the open
  one. Function calls stay open together until something else starts or the stream
  ends, because chat interleaves the argument fragments of parallel calls; every delta
  names its item_id and output_index, which is what the SDKs accumulate by. A fragment
  for a call whose item has closed has nowhere to go: a 502.
- A name that arrives after a call's first delta fills an empty name; the .done events
  carry it.
- `failed` emits response.failed only: nothing is closed, and the open items read
  "incomplete" in that Response; its error code is mapped into ResponseErrorCode
  (objects.error_object).
- sequence_number counts from 0 across start/feed/end/failed; feed, end and failed start
  the stream themselves if start() was not called. Events copy what they carry, so a
  later chunk never changes an event already handed out.
- Usage: the pipeline's TokenUsage wins over the body's (or the usage chunk's); with
  neither, the Response has no `usage` key (see objects.py). `output_text` is never
  sent: the schema lists it only as an SDK-computed property.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.errors import UpstreamError
from gateway.providers.responses import usage_in
from gateway.responses import objects

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from gateway.providers.spec import TokenUsage


Event = dict[str, Any]
Item = dict[str, Any]

INCOMPLETE_REASONS: Mapping[str, str] = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
}

# content part type -> (its text field, its builder); events are response.<type>.delta/done
PARTS: Mapping[str, tuple[str, Callable[[str], objects.Part]]] = {
    "reasoning_text": ("text", objects.reasoning_text),
    "output_text": ("text", objects.output_text),
    "refusal": ("refusal", objects.refusal),
}


def finished(
    skeleton: Mapping[str, Any],
    output: list[Item],
    *,
    finish_reason: str | None,
    usage: TokenUsage | None,
    completed_at: int | None,
) -> dict[str, Any]:
    """The final Response: `output` as given (items already carry their status)."""
    response = copy.deepcopy(dict(skeleton))
    response["output"] = output
    incomplete = INCOMPLETE_REASONS.get(finish_reason or "")
    if incomplete:
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": incomplete}
    else:
        response["status"] = "completed"
        response["completed_at"] = completed_at
    if usage is not None:
        response["usage"] = objects.usage_object(usage)
    return response


# ---- whole answers ---------------------------------------------------------------------


def response_from_completion(
    completion: Mapping[str, Any],
    skeleton: dict[str, Any],
    *,
    item_suffix: str,
    usage: TokenUsage | None = None,
    completed_at: int | None = None,
) -> dict[str, Any]:
    """The Response for a chat completion; `usage` (the pipeline's own) wins over the body's."""
    if not completion.get("choices"):
        raise UpstreamError("The provider sent a response without a choice.")
    choice = completion["choices"][0]
    output = _items(choice.get("message") or {}, item_suffix)
    reason = choice.get("finish_reason")
    if reason in INCOMPLETE_REASONS:
        for item in _trailing(output):
            item["status"] = "incomplete"
    counts = usage if usage is not None else usage_in(completion.get("usage"))
    return finished(skeleton, output, finish_reason=reason, usage=counts, completed_at=completed_at)


def _items(message: Mapping[str, Any], suffix: str) -> list[Item]:
    output: list[Item] = []
    if message.get("reasoning_content"):
        content = [objects.reasoning_text(message["reasoning_content"])]
        output.append(objects.reasoning_item(f"rs_{suffix}", content, "completed"))
    parts = []
    if message.get("content"):
        parts.append(objects.output_text(message["content"]))
    if message.get("refusal"):
        parts.append(objects.refusal(message["refusal"]))
    if parts:
        output.append(objects.message_item(f"msg_{suffix}", parts, "completed"))
    for position, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        item = objects.function_call_item(
            f"fc_{suffix}_{position}",
            call_id=call.get("id") or f"call_{suffix}_{position}",
            name=function.get("name") or "",
            arguments=function.get("arguments") or "",
            status="completed",
        )
        output.append(item)
    return output


def _trailing(output: list[Item]) -> list[Item]:
    """The items a cut interrupts: the last one, or the run of calls that ends the output."""
    if not output or output[-1]["type"] != "function_call":
        return output[-1:]
    start = len(output) - 1
    while start > 0 and output[start - 1]["type"] == "function_call":
        start -= 1
    return output[start:]


# ---- streams ---------------------------------------------------------------------------


@dataclass(slots=True)
class ChatEvents:
    """Memory across one stream's chunks: the items so far, which are open, the count."""

    skeleton: dict[str, Any]
    item_suffix: str = field(kw_only=True)
    next_sequence: int = field(default=0, init=False)  # the next event's sequence_number
    started: bool = field(default=False, init=False)
    ended: bool = field(default=False, init=False)
    output: list[Item] = field(default_factory=list, init=False)
    current: int | None = field(default=None, init=False)  # open reasoning/message item
    part: str | None = field(default=None, init=False)  # the open content part's type
    calls: dict[int, int] = field(default_factory=dict, init=False)  # chat index -> output
    open_calls: list[int] = field(default_factory=list, init=False)  # output indexes
    kinds: dict[str, int] = field(default_factory=dict, init=False)  # id prefix -> items
    finish_reason: str | None = field(default=None, init=False)
    usage: TokenUsage | None = field(default=None, init=False)
    response: dict[str, Any] | None = field(default=None, init=False)  # once ended

    @property
    def final(self) -> dict[str, Any]:
        """The Response that response.completed/incomplete/failed carried."""
        if self.response is None:
            raise RuntimeError("The stream has not ended.")
        return self.response

    def start(self) -> list[Event]:
        """response.created and response.in_progress, each with an empty Response."""
        if self.started:
            return []
        self.started = True
        kinds = ("response.created", "response.in_progress")
        return [self._event(kind, response=self._snapshot("in_progress")) for kind in kinds]

    def feed(self, chunk: Mapping[str, Any]) -> list[Event]:
        """The events one chunk adds; its finish reason and usage wait for `end`."""
        if self.ended:
            return []
        events = self.start()
        if chunk.get("usage"):
            self.usage = usage_in(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n=1 only: a Response has one answer
            delta = choice.get("delta") or {}
            for key, part in (
                ("reasoning_content", "reasoning_text"),
                ("content", "output_text"),
                ("refusal", "refusal"),
            ):
                if delta.get(key):
                    events += self._text(part, str(delta[key]))
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def end(
        self,
        usage: TokenUsage | None = None,
        finish_reason: str | None = None,
        *,
        completed_at: int | None = None,
    ) -> list[Event]:
        """Close the open items; response.completed (or .incomplete) with the whole Response."""
        if self.ended:
            return []
        events = self.start()
        self.ended = True
        reason = finish_reason or self.finish_reason
        cut = reason in INCOMPLETE_REASONS
        events += self._close_all("incomplete" if cut else "completed")
        response = finished(
            self.skeleton,
            copy.deepcopy(self.output),
            finish_reason=reason,
            usage=usage if usage is not None else self.usage,
            completed_at=completed_at,
        )
        self.response = response
        kind = "response.incomplete" if cut else "response.completed"
        return [*events, self._event(kind, response=response)]

    def failed(self, code: str, message: str) -> list[Event]:
        """response.failed with the output so far; open items stay open (read incomplete)."""
        if self.ended:
            return []
        events = self.start()
        self.ended = True
        response = self._snapshot("failed")
        for item in response["output"]:
            if item["status"] == "in_progress":
                item["status"] = "incomplete"
        response["error"] = objects.error_object(code, message)
        if self.usage is not None:
            response["usage"] = objects.usage_object(self.usage)
        self.response = response
        return [*events, self._event("response.failed", response=response)]

    # ---- the pieces ----

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, **fields, "sequence_number": self.next_sequence}
        self.next_sequence += 1
        return event

    def _snapshot(self, status: str) -> dict[str, Any]:
        response = copy.deepcopy(self.skeleton)
        response["status"] = status
        response["output"] = copy.deepcopy(self.output)
        return response

    def _item_id(self, prefix: str) -> str:
        count = self.kinds.get(prefix, 0)
        self.kinds[prefix] = count + 1
        return f"{prefix}_{self.item_suffix}" + (f"_{count}" if count else "")

    def _add(self, item: Item) -> list[Event]:
        self.output.append(item)
        index = len(self.output) - 1
        item = copy.deepcopy(item)
        return [self._event("response.output_item.added", output_index=index, item=item)]

    def _done(self, index: int, status: str) -> Event:
        item = self.output[index]
        item["status"] = status
        return self._event(
            "response.output_item.done", output_index=index, item=copy.deepcopy(item)
        )

    def _text(self, part: str, text: str) -> list[Event]:
        kind = "reasoning" if part == "reasoning_text" else "message"
        events: list[Event] = []
        if self.current is None or self.output[self.current]["type"] != kind:
            events += self._close_all("completed")
            if kind == "reasoning":
                item = objects.reasoning_item(self._item_id("rs"), [], "in_progress")
            else:
                item = objects.message_item(self._item_id("msg"), [], "in_progress")
            events += self._add(item)
            self.current = len(self.output) - 1
        if self.part != part:
            events += self._close_part()
            events += self._open_part(part)
        key = PARTS[part][0]
        self.output[self.current]["content"][-1][key] += text
        events.append(self._part_event("delta", delta=text))
        return events

    def _where(self) -> dict[str, Any]:
        assert self.current is not None
        item = self.output[self.current]
        return {
            "item_id": item["id"],
            "output_index": self.current,
            "content_index": len(item["content"]) - 1,
        }

    def _part_event(self, stage: str, **fields: Any) -> Event:
        if self.part == "output_text":
            fields["logprobs"] = []
        return self._event(f"response.{self.part}.{stage}", **self._where(), **fields)

    def _open_part(self, part: str) -> list[Event]:
        assert self.current is not None
        content = PARTS[part][1]("")
        self.output[self.current]["content"].append(content)
        self.part = part
        return [self._event("response.content_part.added", **self._where(), part=dict(content))]

    def _close_part(self) -> list[Event]:
        if self.current is None or self.part is None:
            return []
        content = self.output[self.current]["content"][-1]
        key = PARTS[self.part][0]
        events = [
            self._part_event("done", **{key: content[key]}),
            self._event("response.content_part.done", **self._where(), part=dict(content)),
        ]
        self.part = None
        return events

    def _close_current(self, status: str) -> list[Event]:
        if self.current is None:
            return []
        events = self._close_part()
        events.append(self._done(self.current, status))
        self.current = None
        return events

    def _close_all(self, status: str) -> list[Event]:
        events = self._close_current(status)
        for index in self.open_calls:
            item = self.output[index]
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    name=item["name"],
                    output_index=index,
                    arguments=item["arguments"],
                )
            )
            events.append(self._done(index, status))
        self.open_calls = []
        return events

    def _tool_call(self, call: Mapping[str, Any]) -> list[Event]:
        position = call.get("index", 0)
        function = call.get("function") or {}
        fragment = function.get("arguments") or ""
        events: list[Event] = []
        if position not in self.calls:
            events += self._close_current("completed")
            item = objects.function_call_item(
                f"fc_{self.item_suffix}_{position}",
                call_id=call.get("id") or f"call_{self.item_suffix}_{position}",
                name=function.get("name") or "",
                arguments="",
                status="in_progress",
            )
            events += self._add(item)
            self.calls[position] = len(self.output) - 1
            self.open_calls.append(self.calls[position])
        index = self.calls[position]
        if index not in self.open_calls:
            if fragment:
                raise UpstreamError("The provider sent a tool call's arguments after its end.")
            return events
        item = self.output[index]
        if not item["name"] and function.get("name"):
            item["name"] = function["name"]
        if fragment:
            item["arguments"] += fragment
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=index,
                    delta=fragment,
                )
            )
        return events
