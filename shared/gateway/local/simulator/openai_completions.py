"""OpenAI's legacy Completions API (``POST /v1/completions``, JSON or SSE), simulated.

Reference: https://platform.openai.com/docs/api-reference/completions and the
CreateCompletionRequest / CreateCompletionResponse schemas of OpenAI's OpenAPI document
2.3.0 (its POST /completions examples show a stream chunk).

Each prompt's answer is the chat vendor's reply to it (``scenario.Plan``: ``"Echo: "`` and
the prompt, markers removed), so a gateway passing this API through and one translating it
to chat agree on the text. Beyond chat:
- ``prompt``: a string, a list of strings, a token array or a list of token arrays (none
  empty). Each prompt gets ``n`` choices, alike, numbered ``prompt_index * n + k`` as OpenAI
  numbers them. A token array's text is its ids joined by spaces (there is no tokenizer
  here) and it counts its length in prompt tokens; a string counts as chat counts it.
- ``max_tokens`` (16 when absent or null, the schema's default) cuts a reply after the last
  whole word it pays for: finish_reason ``length``, completion tokens ``max_tokens``.
  ``stop`` (a string, or up to 4) cuts it before the first stop sequence found.
- ``echo`` puts the prompt before the completion (in a stream, as its own first piece).
- ``suffix`` is taken by gpt-3.5-turbo-instruct only, as the schema says; other models
  answer the 400 OpenAI sent before it enabled it (openai-python issue 619). It does not
  change the answer. ``best_of`` and the sampling parameters are accepted and ignored.
- ``logprobs: k`` (0-5) returns the legacy logprobs object: one token per word with the
  whitespace before it, each with logprob ``LOGPROB`` and a top_logprobs entry naming the
  sampled token only; ``text_offset`` counts from the start of prompt + completion.
- A stream is ``data:`` chunks: each choice's tokens in ``x-sim-chunks`` nearly equal runs,
  the choices interleaved, finish_reason null; then per choice a chunk with text "" and its
  finish_reason; with ``stream_options.include_usage`` every chunk carries ``usage: null``
  and a last chunk with ``choices: []`` the usage; then ``data: [DONE]``.
- Usage: prompt tokens once per prompt, completion tokens summed over every choice; no
  prompt cache. Auth, faults and errors are OpenAIVendor's, with this endpoint's 400 and
  context-length bodies.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gateway.local.simulator.engine import Ev, json_response
from gateway.local.simulator.openai_api import OpenAIVendor
from gateway.local.simulator.scenario import (
    Parsed,
    Plan,
    PromptScan,
    RequestError,
    count_tokens,
    dumps,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.engine import ErrorContext

DEFAULT_MAX_TOKENS = 16
MAX_N = 128
MAX_LOGPROBS = 5
MAX_STOPS = 4
CONTEXT_WINDOW = 4096
LOGPROB = -0.25
SUFFIX_MODELS = ("gpt-3.5-turbo-instruct",)  # name prefixes
_TOKEN = re.compile(r"\s*\S+|\s+$")  # a word and the whitespace before it
_PROMPT_TYPE = (
    "Invalid value for 'prompt': expected a string, an array of strings, an array of "
    "integers, or an array of integer arrays, none of them empty."
)
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
)

Prompt = str | list[int]


@dataclass
class CompletionsRequest(Parsed):
    """A completions body: its prompts, in order, and how each is answered."""

    prompts: list[Prompt] = field(default_factory=list)
    n: int = 1
    max_tokens: int = DEFAULT_MAX_TOKENS
    stop: list[str] = field(default_factory=list)
    echo: bool = False
    logprobs: int | None = None
    created: int = field(default_factory=lambda: int(time.time()))


# --------------------------------------------------------------------------- the request


def _invalid_type(name: str, expected: str, value: object) -> RequestError:
    got = next((label for kind, label in _JSON_TYPES if isinstance(value, kind)), "null")
    message = f"Invalid type for '{name}': expected {expected}, but got {got} instead."
    return RequestError(message, name, code="invalid_type")


def _integer(body: dict[str, Any], name: str, default: int, low: int, high: int | None) -> int:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid_type(name, "an integer", value)
    if value < low:
        message = f"Invalid '{name}': integer below minimum value. Expected a value >= {low}"
        raise RequestError(
            f"{message}, but got {value} instead.", name, code="integer_below_min_value"
        )
    if high is not None and value > high:
        message = f"Invalid '{name}': integer above maximum value. Expected a value <= {high}"
        raise RequestError(
            f"{message}, but got {value} instead.", name, code="integer_above_max_value"
        )
    return value


def _is_tokens(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)
    )


def _prompts(raw: object) -> list[Prompt]:
    if raw is None:
        message = "Missing required parameter: 'prompt'."
        raise RequestError(message, "prompt", code="missing_required_parameter")
    items: list[Any] = raw if isinstance(raw, list) and raw and not _is_tokens(raw) else [raw]
    if all(isinstance(p, str) for p in items) or all(map(_is_tokens, items)):
        return items
    raise RequestError(_PROMPT_TYPE, "prompt", code="invalid_value")


def _stops(raw: object) -> list[str]:
    if raw is None:
        return []
    stops = [raw] if isinstance(raw, str) else raw
    if not isinstance(stops, list) or not 1 <= len(stops) <= MAX_STOPS:
        raise _invalid_type("stop", f"a string or an array of 1 to {MAX_STOPS} strings", raw)
    if not all(isinstance(s, str) for s in stops):
        raise _invalid_type("stop", "an array of strings", raw)
    return [s for s in stops if s]


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _invalid_type(name, "a boolean", value)
    return value is True


def prompt_text(prompt: Prompt) -> str:
    return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))


def prompt_tokens(prompt: Prompt) -> int:
    return count_tokens(prompt) if isinstance(prompt, str) else len(prompt)


def parse_body(body: dict[str, Any]) -> CompletionsRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        message = "Missing required parameter: 'model'."
        raise RequestError(message, "model", code="missing_required_parameter")
    prompts = _prompts(body.get("prompt"))
    if body.get("suffix") is not None and not model.startswith(SUFFIX_MODELS):
        raise RequestError("Unrecognized request argument supplied: suffix")
    scan = PromptScan()
    for prompt in prompts:
        scan.add(prompt_text(prompt))
    options = body.get("stream_options")
    asked = body.get("logprobs") is not None
    return CompletionsRequest(
        model=model,
        stream=_flag(body, "stream"),
        user_text="\n".join(p for p in prompts if isinstance(p, str)),
        scan=scan,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        prompts=prompts,
        n=_integer(body, "n", 1, 1, MAX_N),
        max_tokens=_integer(body, "max_tokens", DEFAULT_MAX_TOKENS, 0, None),
        stop=_stops(body.get("stop")),
        echo=_flag(body, "echo"),
        logprobs=_integer(body, "logprobs", 0, 0, MAX_LOGPROBS) if asked else None,
    )


# --------------------------------------------------------------------------- the answer


@dataclass(frozen=True)
class Choice:
    """One choice: the prompt it echoes ("" without ``echo``) and what it completes."""

    index: int
    prompt: str
    text: str
    finish_reason: str
    tokens: int  # completion tokens
    start: int  # text_offset of the first character sent: 0 when echoed, else after the prompt

    def pieces(self, chunks: int) -> list[tuple[list[str], int]]:
        """The stream's pieces: (tokens, text_offset of the first), the echoed prompt first."""
        runs = [_TOKEN.findall(self.prompt)] if self.prompt else []
        runs += _runs(_TOKEN.findall(self.text), chunks)
        starts = itertools.accumulate((len("".join(run)) for run in runs), initial=self.start)
        return list(zip(runs, starts, strict=False))


def _fit(text: str, tokens: int) -> str:
    """The longest prefix of whole words that ``tokens`` tokens pay for."""
    kept = ""
    for word in _TOKEN.findall(text):
        if count_tokens(kept + word) > tokens:
            break
        kept += word
    return kept


def _generate(reply: str, request: CompletionsRequest) -> tuple[str, str, int]:
    """(text, finish_reason, completion tokens) of one reply under stop and max_tokens."""
    found = [at for at in (reply.find(s) for s in request.stop) if at >= 0]
    said = reply[: min(found)] if found else reply
    if count_tokens(said) <= request.max_tokens:
        return said, "stop", count_tokens(said)
    return _fit(said, request.max_tokens), "length", request.max_tokens


def choices(plan: Plan, request: CompletionsRequest) -> list[Choice]:
    out: list[Choice] = []
    for number, prompt in enumerate(request.prompts):
        text = prompt_text(prompt)
        alone = Plan(replace(request, user_text=text), plan.chunks, plan.seq, refused=plan.refused)
        said, finish, tokens = _generate(alone.reply, request)
        echoed, start = (text, 0) if request.echo else ("", len(text))
        for k in range(request.n):
            out.append(Choice(number * request.n + k, echoed, said, finish, tokens, start))
    return out


def usage(request: CompletionsRequest, answered: list[Choice]) -> dict[str, int]:
    prompt = max(1, sum(map(prompt_tokens, request.prompts)))
    completion = sum(choice.tokens for choice in answered)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def logprobs_object(tokens: list[str], offset: int) -> dict[str, Any]:
    """The legacy logprobs of ``tokens``, the first at character ``offset``."""
    starts = itertools.accumulate((len(t) for t in tokens[:-1]), initial=offset)
    return {
        "tokens": tokens,
        "token_logprobs": [LOGPROB] * len(tokens),
        "top_logprobs": [{token: LOGPROB} for token in tokens],
        "text_offset": list(starts) if tokens else [],
    }


def _runs(tokens: list[str], count: int) -> list[list[str]]:
    """``tokens`` in ``count`` nearly equal, non-empty runs (fewer if there are fewer)."""
    count = max(1, min(count, len(tokens)))
    size, extra = divmod(len(tokens), count)
    edges = itertools.accumulate((size + (i < extra) for i in range(count)), initial=0)
    return [tokens[a:b] for a, b in itertools.pairwise(edges) if b > a]


# --------------------------------------------------------------------------- the vendor


def _error(message: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


def _context_length(tokens: int) -> dict[str, Any]:
    asked = CONTEXT_WINDOW + tokens
    message = (
        f"This model's maximum context length is {CONTEXT_WINDOW} tokens, however you "
        f"requested {asked + DEFAULT_MAX_TOKENS} tokens ({asked} in your prompt; "
        f"{DEFAULT_MAX_TOKENS} for the completion). Please reduce your prompt; or completion "
        "length."
    )
    return _error(message, None, "context_length_exceeded")


def _request(plan: Plan) -> CompletionsRequest:
    if not isinstance(plan.parsed, CompletionsRequest):
        raise TypeError("a completions plan is parsed by parse_body")
    return plan.parsed


class OpenAICompletionsVendor(OpenAIVendor):
    """OpenAI's auth, headers and faults (``OpenAIVendor``); text_completion bodies."""

    touches_cache = False

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        del request
        return parse_body(body)

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        if kind == "400":
            status, body = ctx.status, _error(ctx.message or "", ctx.param, ctx.code)
            if not ctx.message:
                missing = "Missing required parameter: 'prompt'."
                status, body = 400, _error(missing, "prompt", "missing_required_parameter")
        elif kind == "context_length":
            status, body = 400, _context_length(ctx.input_tokens)
        else:
            return super().error(kind, ctx)
        return json_response(body, status, self.headers(ctx.request_id))

    def _head(self, plan: Plan) -> dict[str, Any]:
        return {
            "id": f"cmpl-sim{plan.seq:06d}",
            "object": "text_completion",
            "created": _request(plan).created,
            "model": plan.model,
            "system_fingerprint": "fp_simulator",
        }

    def success(self, plan: Plan) -> dict[str, Any]:
        request = _request(plan)
        answered = choices(plan, request)
        out = []
        for choice in answered:
            whole = choice.prompt + choice.text
            body: dict[str, Any] = {"text": whole, "index": choice.index, "logprobs": None}
            if request.logprobs is not None:
                tokens = _TOKEN.findall(choice.prompt) + _TOKEN.findall(choice.text)
                body["logprobs"] = logprobs_object(tokens, choice.start)
            out.append({**body, "finish_reason": choice.finish_reason})
        return {**self._head(plan), "choices": out, "usage": usage(request, answered)}

    def events(self, plan: Plan) -> list[Ev]:
        request = _request(plan)
        answered = choices(plan, request)
        head = self._head(plan)

        def chunk(choice: dict[str, Any]) -> bytes:
            body: dict[str, Any] = {**head, "choices": [choice]}
            if request.include_usage:
                body["usage"] = None
            return _sse(body)

        def logprobs(tokens: list[str], offset: int) -> dict[str, Any] | None:
            return None if request.logprobs is None else logprobs_object(tokens, offset)

        pieces = [choice.pieces(plan.chunks) for choice in answered]
        events: list[Ev] = []
        for step in itertools.zip_longest(*pieces):
            for choice, piece in zip(answered, step, strict=True):
                if piece is not None:
                    tokens, offset = piece
                    body = {"text": "".join(tokens), "index": choice.index}
                    body.update(logprobs=logprobs(tokens, offset), finish_reason=None)
                    events.append(Ev(chunk(body), "delta"))
        for choice in answered:
            body = {"text": "", "index": choice.index, "logprobs": logprobs([], 0)}
            events.append(Ev(chunk({**body, "finish_reason": choice.finish_reason}), "tail"))
        if request.include_usage:
            last = {**head, "choices": [], "usage": usage(request, answered)}
            events.append(Ev(_sse(last), "tail"))
        events.append(Ev(b"data: [DONE]\n\n", "tail"))
        return events

    def stream_invalid(self) -> bytes:
        return b'data: {"id": "cmpl-sim", "choices": [}\n\n'


def _sse(body: object) -> bytes:
    return f"data: {dumps(body)}\n\n".encode()
