"""Tool-call ids and the thought signatures they carry across a conversation.

Gemini's functionCall usually has no id, and a thinking model attaches a
`thoughtSignature` to its function calls that must come back, unchanged, on that
functionCall part when the history is sent again; Gemini 3 answers 400 without it
(https://ai.google.dev/gemini-api/docs/thought-signatures). OpenAI's tool call has
nowhere to keep it but its id, so the id carries it as LiteLLM writes it:
`<id>__thought__<signature>`. Clients echo tool-call ids verbatim, which brings the
signature back to messages.py.

An id Gemini did not give is minted from the response id and the call's position,
so a stream and a non-streamed answer name their calls alike.
"""

from __future__ import annotations

import hashlib
import re

SEPARATOR = "__thought__"  # LiteLLM's, so histories move between the two gateways
# For a Gemini 3 function call whose signature is unknown (history from another model,
# or a client that rewrote the id), Google documents this value as the one that skips
# signature validation.
SKIP_SIGNATURE = "skip_thought_signature_validator"

_GENERATION = re.compile(r"gemini-(\d+)")


def tool_call_id(response_id: str, index: int, given: object, signature: object) -> str:
    """The OpenAI id of the response's `index`th function call."""
    if isinstance(given, str) and given:
        base = given
    else:
        digest = hashlib.sha256(f"{response_id}:{index}".encode()).hexdigest()
        base = f"call_{digest[:24]}"
    if isinstance(signature, str) and signature:
        return f"{base}{SEPARATOR}{signature}"
    return base


def signature_of(call_id: str) -> str | None:
    """The thought signature a tool-call id carries, if any."""
    _, sep, signature = call_id.partition(SEPARATOR)
    return signature if sep and signature else None


def needs_signatures(model: str) -> bool:
    """Gemini 3 and later validate function-call signatures; 2.5 treats them as advice."""
    found = _GENERATION.search(model.lower())
    return found is not None and int(found.group(1)) >= 3
