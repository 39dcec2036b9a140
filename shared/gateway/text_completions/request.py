"""A legacy completions request (`POST /v1/completions`), validated, and its chat view.

Reference: OpenAI's CreateCompletionRequest. `prompt` is a string, a list of strings,
a token array or a list of token arrays; `max_tokens` defaults to 16. The chat view
(one user message holding the prompt) is what the pipeline prices, sizes and routes,
and what a chat-mode deployment is sent. Its `n` counts every completion billed:
`max(n, best_of)` for each prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.errors import InvalidRequestError
from gateway.schemas.validation import validated

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.schemas.openai import ChatCompletionRequest

DEFAULT_MAX_TOKENS = 16
# Fields the chat view carries as they are (OpenAI's chat takes them with one meaning).
SHARED = (
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "user",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
)
Prompt = str | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TextRequest:
    body: Mapping[str, Any]  # the client's, less the gateway's own fields
    prompts: tuple[Prompt, ...]
    chat: ChatCompletionRequest

    def untranslatable(self) -> InvalidRequestError | None:
        """Why a chat-only model cannot serve this request, if it cannot."""
        body = self.body
        if len(self.prompts) != 1 or not isinstance(self.prompts[0], str):
            reason, param = "exactly one prompt string", "prompt"
        elif body.get("echo"):
            reason, param = "echo", "echo"
        elif body.get("suffix") is not None:
            reason, param = "suffix", "suffix"
        elif body.get("logprobs") is not None:
            reason, param = "logprobs", "logprobs"
        elif (body.get("best_of") or 1) > (body.get("n") or 1):
            reason, param = "best_of", "best_of"
        else:
            return None
        return InvalidRequestError(
            f"The model '{self.chat.model}' is a chat model: /v1/completions sends it the "
            f"prompt as one user message, which takes {reason} only on completion models.",
            param=param,
        )


def _is_tokens(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)
    )


def _prompts(raw: object) -> tuple[Prompt, ...]:
    values = [raw] if isinstance(raw, str) or _is_tokens(raw) else raw
    if not isinstance(values, list) or not values:
        raise InvalidRequestError(
            "'prompt' must be a string, an array of strings, or an array of token arrays.",
            param="prompt",
        )
    out: list[Prompt] = []
    for index, value in enumerate(values):
        if isinstance(value, str):
            out.append(value)
        elif _is_tokens(value):
            out.append(tuple(value))
        else:
            raise InvalidRequestError(
                f"'prompt[{index}]' must be a string or a token array.", param="prompt"
            )
    return tuple(out)


def _count(data: Mapping[str, Any], name: str, low: int) -> int | None:
    value = data.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
        raise InvalidRequestError(f"'{name}' must be an integer of at least {low}.", param=name)
    return value


def validate_completions(data: dict[str, Any]) -> TextRequest:
    from gateway.schemas.openai import ChatCompletionRequest

    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("'model' must be a non-empty string.", param="model")
    if "prompt" not in data:
        raise InvalidRequestError("Missing required parameter: 'prompt'.", param="prompt")
    prompts = _prompts(data["prompt"])
    n, best_of = _count(data, "n", 1), _count(data, "best_of", 1)
    max_tokens = _count(data, "max_tokens", 0) if "max_tokens" in data else DEFAULT_MAX_TOKENS
    for flag in ("echo", "stream"):
        if flag in data and not isinstance(data[flag], bool | None):
            raise InvalidRequestError(f"'{flag}' must be a boolean.", param=flag)
    body = {key: value for key, value in data.items() if key != "metadata"}
    text = "\n".join(p for p in prompts if isinstance(p, str))
    view: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        **{name: data[name] for name in SHARED if name in data},
    }
    completions = max(n or 1, best_of or 1) * len(prompts)
    if completions != 1 or n is not None:
        view["n"] = completions
    if max_tokens is not None:
        view["max_tokens"] = max(max_tokens, 1)
    chat = validated(ChatCompletionRequest, view)
    return TextRequest(body=body, prompts=prompts, chat=chat)
