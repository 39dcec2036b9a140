"""A lower bound on a prompt's tokens, for routing around too-small context windows.

The router skips a deployment before calling it only when the prompt *provably*
exceeds its `max_input_tokens`, so the bound must never overestimate. A token of the
byte-level BPE vocabularies the gateway routes to (OpenAI's, Anthropic's, Llama's,
Mistral's, Amazon's) spans well under MAX_TOKEN_BYTES bytes of UTF-8, so a prompt of
B bytes of text holds at least B / MAX_TOKEN_BYTES tokens. Anything closer is left
to the provider's own context-length error, which triggers the same fallback.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.schemas.openai import ChatCompletionRequest

MAX_TOKEN_BYTES = 128
_NOT_TEXT = frozenset({"role", "type", "image_url", "url"})  # markup or media, not prompt text


def text_bytes(value: Any, skip: frozenset[str] = _NOT_TEXT) -> int:
    """UTF-8 bytes of the strings in `value`, but under the keys in `skip`."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, dict):
        return sum(text_bytes(v, skip) for k, v in value.items() if k not in skip)
    if isinstance(value, list):
        return sum(text_bytes(v, skip) for v in value)
    return 0


def prompt_tokens_at_least(request: ChatCompletionRequest) -> int:
    """Tokens the prompt's messages and tools cannot have fewer of."""
    data = request.model_dump(include={"messages", "tools"}, exclude_none=True)
    return math.ceil(text_bytes(data) / MAX_TOKEN_BYTES)
