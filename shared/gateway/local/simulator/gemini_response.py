"""Gemini's answer as a ``GenerateContentResponse``, whole or as stream chunks.

One ``Answer`` (text, thoughts, function call, finish reason, token counts) is worked out
per request and serves both shapes, so folding the chunks gives back the whole response.
Field names are those of the REST references for ``GenerateContentResponse``
(https://ai.google.dev/api/generate-content#generatecontentresponse and Vertex AI's
``projects.locations.publishers.models/generateContent`` response). Google writes proto3
JSON, which leaves out zero counts and empty lists, so the simulator does too.

Stream chunks follow what both hosts send: every chunk has ``usageMetadata`` with the prompt
count (and thoughts), the text comes in content chunks without a finish reason, and a last
chunk carries ``finishReason`` and the full counts (``candidatesTokenCount`` only there).
A blocked prompt or a filtered answer is a single chunk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from gateway.local.simulator.gemini_request import GeminiParsed
from gateway.local.simulator.scenario import (
    TOOL_ARGUMENTS,
    TOOL_ARGUMENTS_JSON,
    count_tokens,
    signature_for,
    split_chunks,
)

if TYPE_CHECKING:
    from gateway.local.simulator.engine import Kind
    from gateway.local.simulator.scenario import Plan

Chunk = tuple[dict[str, Any], "Kind"]
CATEGORIES = (
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)
BLOCKED_CATEGORY = "HARM_CATEGORY_DANGEROUS_CONTENT"
_FINISH = {"safety": "SAFETY", "recitation": "RECITATION"}
_NO_CONTENT = frozenset({"SAFETY", "RECITATION"})


@dataclass(frozen=True)
class Host:
    """Where the two hosts' answers differ: Vertex AI adds ``createTime`` (``created``)
    and reports ``trafficType`` and the candidates' modality counts."""

    vertex: bool
    created: str = ""


@dataclass(frozen=True)
class Answer:
    """Everything both answer shapes say, decided once per request."""

    prompt_tokens: int
    cached_tokens: int = 0
    thoughts: str = ""
    show_thoughts: bool = False
    text: str = ""
    tool: str | None = None
    finish: str | None = "STOP"  # None: the prompt was blocked, no candidates
    candidates_tokens: int = 0
    candidates: int = 1

    @property
    def thoughts_tokens(self) -> int:
        return count_tokens(self.thoughts)


def _words_within(text: str, budget: int) -> str:
    """The longest prefix of whole words whose token count fits ``budget``."""
    ends = [m.end() for m in re.finditer(r"\S+", text)]
    fitting = [end for end in ends if count_tokens(text[:end]) <= budget]
    return text[: fitting[-1]] if fitting else ""


def _reply(plan: Plan, parsed: GeminiParsed) -> tuple[str, str]:
    """(text, finish reason): the echo, cut at a stop sequence or at maxOutputTokens."""
    text = json.dumps({"reply": plan.reply}) if parsed.json_mode else plan.reply
    stops = [text.find(stop) for stop in parsed.stop_sequences if stop in text]
    if stops:
        text = text[: min(stops)]
    limit = parsed.max_output_tokens
    if limit is not None:
        budget = limit - count_tokens(plan.thinking_text)  # thoughts count against it
        if count_tokens(text) > budget:
            return _words_within(text, budget), "MAX_TOKENS"
    return text, "STOP"


def answer(plan: Plan) -> Answer:
    parsed = plan.parsed
    assert isinstance(parsed, GeminiParsed)
    base = Answer(
        prompt_tokens=parsed.scan.total_tokens(),
        cached_tokens=plan.cache_read,
        candidates=parsed.candidate_count,
    )
    outcome = "safety" if plan.refused else parsed.outcome
    if outcome is not None:
        return replace(base, finish=_FINISH.get(outcome))
    base = replace(base, thoughts=plan.thinking_text, show_thoughts=parsed.show_thoughts)
    if plan.tool:
        return replace(base, tool=plan.tool, candidates_tokens=count_tokens(TOOL_ARGUMENTS_JSON))
    text, finish = _reply(plan, parsed)
    return replace(base, text=text, finish=finish, candidates_tokens=count_tokens(text))


def safety_ratings(*, blocked: bool) -> list[dict[str, Any]]:
    """One rating per category; a blocking one is HIGH and says so."""
    ratings = []
    for category in CATEGORIES:
        if blocked and category == BLOCKED_CATEGORY:
            ratings.append({"category": category, "probability": "HIGH", "blocked": True})
        else:
            ratings.append({"category": category, "probability": "NEGLIGIBLE"})
    return ratings


def _modality(tokens: int) -> list[dict[str, Any]]:
    return [{"modality": "TEXT", "tokenCount": tokens}]


def usage(ans: Answer, host: Host, *, final: bool) -> dict[str, Any]:
    """``usageMetadata``; before the last chunk it counts the prompt (and thoughts) only."""
    out = ans.candidates_tokens * ans.candidates if final else 0
    body: dict[str, Any] = {"promptTokenCount": ans.prompt_tokens}
    if out:
        body["candidatesTokenCount"] = out
    body["totalTokenCount"] = ans.prompt_tokens + out + ans.thoughts_tokens
    if ans.cached_tokens:
        body["cachedContentTokenCount"] = ans.cached_tokens
    body["promptTokensDetails"] = _modality(ans.prompt_tokens)
    if ans.cached_tokens:
        body["cacheTokensDetails"] = _modality(ans.cached_tokens)
    if out and host.vertex:
        body["candidatesTokensDetails"] = _modality(out)
    if ans.thoughts_tokens:
        body["thoughtsTokenCount"] = ans.thoughts_tokens
    if host.vertex:
        body["trafficType"] = "ON_DEMAND"
    return body


def _parts(ans: Answer) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if ans.thoughts and ans.show_thoughts:
        parts.append({"text": ans.thoughts, "thought": True})
    if ans.tool:
        parts.append(_call_part(ans))
    elif ans.text:
        parts.append({"text": ans.text})
    return parts


def _call_part(ans: Answer) -> dict[str, Any]:
    """A function call; after thinking it carries the signature the next turn must echo."""
    part: dict[str, Any] = {"functionCall": {"name": ans.tool, "args": TOOL_ARGUMENTS}}
    if ans.thoughts:
        part["thoughtSignature"] = signature_for(ans.thoughts)
    return part


def _candidates(
    ans: Answer, parts: list[dict[str, Any]] | None, finish: str | None
) -> list[dict[str, Any]]:
    """Alike candidates; ``parts`` None leaves ``content`` out (a filtered answer)."""
    candidates = []
    for index in range(ans.candidates):
        candidate: dict[str, Any] = {}
        if parts is not None:
            candidate["content"] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
        if finish is not None:
            candidate["finishReason"] = finish
        if finish == "SAFETY":
            candidate["safetyRatings"] = safety_ratings(blocked=True)
        candidate["index"] = index
        candidates.append(candidate)
    return candidates


def _envelope(plan: Plan, host: Host, head: dict[str, Any], use: dict[str, Any]) -> dict[str, Any]:
    body = {**head, "usageMetadata": use, "modelVersion": plan.model}
    if host.vertex:
        body["createTime"] = host.created
    body["responseId"] = response_id(plan.seq)
    return body


def _head(ans: Answer) -> dict[str, Any]:
    """``candidates``, or a blocked prompt's ``promptFeedback`` in their place."""
    if ans.finish is None:
        feedback = {"blockReason": "SAFETY", "safetyRatings": safety_ratings(blocked=True)}
        return {"promptFeedback": feedback}
    parts = None if ans.finish in _NO_CONTENT else _parts(ans)
    return {"candidates": _candidates(ans, parts, ans.finish)}


def response_id(seq: int) -> str:
    return f"sim{seq:018d}"


def response(plan: Plan, ans: Answer, host: Host) -> dict[str, Any]:
    """The whole GenerateContentResponse."""
    return _envelope(plan, host, _head(ans), usage(ans, host, final=True))


def chunks(plan: Plan, ans: Answer, host: Host) -> list[Chunk]:
    """The streamed GenerateContentResponses, each with its ``engine.Kind``."""
    final = usage(ans, host, final=True)
    if ans.finish is None or ans.finish in _NO_CONTENT:
        return [(_envelope(plan, host, _head(ans), final), "tail")]
    running = usage(ans, host, final=False)

    def content(parts: list[dict[str, Any]]) -> Chunk:
        head = {"candidates": _candidates(ans, parts, None)}
        return _envelope(plan, host, head, running), "delta"

    out: list[Chunk] = []
    if ans.thoughts and ans.show_thoughts:
        pieces = split_chunks(ans.thoughts, plan.chunks)
        out += [content([{"text": piece, "thought": True}]) for piece in pieces]
    if ans.tool:
        out.append(content([_call_part(ans)]))
    elif ans.text:
        out += [content([{"text": piece}]) for piece in split_chunks(ans.text, plan.chunks)]
    last = {"candidates": _candidates(ans, [{"text": ""}], ans.finish)}
    out.append((_envelope(plan, host, last, final), "tail"))
    return out
