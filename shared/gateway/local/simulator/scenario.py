"""Shared pieces: fault names, deterministic answers, token counts, prompt scanning.

Determinism rules (documented for tests):
- the reply is ``"Echo: " + <last user message text>`` (simulator markers removed);
- it is split into N nearly equal character chunks (N from header ``x-sim-chunks``,
  else a ``[sim-chunks:N]`` marker, else 5); tool-call arguments are split the same way;
- tokens of a text = round-half-up(words * 1.3), words being whitespace-separated;
  input tokens sum over every prompt segment (system, messages, tool definitions),
  at least 1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

FAULTS: frozenset[str] = frozenset(
    {
        "400",
        "401",
        "429",
        "500",
        "502",
        "503",
        "529",
        "context_length",
        "content_policy",
        "timeout",
        "stall_after_first",
        "truncate",
        "error_event",
        "invalid_json",
        "html",
        "leak",
        "reset",
    }
)
# Faults answered with the vendor's HTTP error response (status + error body).
ERROR_FAULTS: frozenset[str] = frozenset(
    {"400", "401", "429", "500", "502", "503", "529", "context_length", "leak"}
)
# Throttling faults: their error responses may carry retry headers (429's always does).
# ``reset`` is not among ERROR_FAULTS: it answers nothing (see ``connection.ResetResponse``).
RETRY_FAULTS: frozenset[str] = frozenset({"429", "503", "529"})

DEFAULT_CHUNKS = 5
MAX_CHUNKS = 1000
RETRY_AFTER_SECONDS = "7"
TOOL_ARGUMENTS: dict[str, str] = {"location": "Paris"}
TOOL_ARGUMENTS_JSON = json.dumps(TOOL_ARGUMENTS)
INVALID_JSON = b'{"id": "sim-invalid", "choices": [}'
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>"
    b"</html>\n"
)

_FAULT_MARKER = re.compile(r"\[sim-fault:([A-Za-z0-9_]+)\]")
_CHUNKS_MARKER = re.compile(r"\[sim-chunks:(\d+)\]")


class RequestError(ValueError):
    """The request is not acceptable to the simulated vendor (answered with its 400, or
    ``status`` and ``code`` where a vendor's own rejection differs, as OpenAI's 404s do)."""

    def __init__(
        self, message: str, param: str | None = None, *, status: int = 400, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.param = param
        self.status = status
        self.code = code


def count_tokens(text: str) -> int:
    """round-half-up(words * 1.3), in integers to stay exact."""
    return (len(text.split()) * 13 + 5) // 10


def split_chunks(text: str, count: int) -> list[str]:
    """Split into ``count`` nearly equal, non-empty pieces whose concatenation is ``text``."""
    if not text:
        return [""]
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    pieces: list[str] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def fault_marker(text: str) -> str | None:
    found = _FAULT_MARKER.search(text)
    return found.group(1) if found else None


def chunks_marker(text: str) -> int | None:
    found = _CHUNKS_MARKER.search(text)
    return int(found.group(1)) if found else None


def strip_markers(text: str) -> str:
    return _CHUNKS_MARKER.sub("", _FAULT_MARKER.sub("", text)).strip()


def signature_for(text: str) -> str:
    """An opaque, deterministic base64 'signature' for a thinking block."""
    digest = hashlib.sha256(text.encode()).digest()
    return base64.b64encode(digest + digest).decode()


def mask_key(key: str) -> str:
    """Mask a credential the way OpenAI's 401 does: a short prefix and the last 4 characters."""
    if len(key) < 12:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


@dataclass
class PromptScan:
    """The prompt as ordered text segments, with the last prompt-cache breakpoint."""

    texts: list[str] = field(default_factory=list)
    breakpoint: int = 0

    def add(self, text: str) -> None:
        self.texts.append(text)

    def mark(self) -> None:
        """Everything added so far is a cacheable prefix."""
        self.breakpoint = len(self.texts)

    def total_tokens(self) -> int:
        return max(1, sum(count_tokens(text) for text in self.texts))

    def cached_tokens(self) -> int:
        return sum(count_tokens(text) for text in self.texts[: self.breakpoint])

    def cache_key(self, model: str) -> str | None:
        if not self.breakpoint:
            return None
        joined = "\x00".join([model, *self.texts[: self.breakpoint]])
        return hashlib.sha256(joined.encode()).hexdigest()


@dataclass
class Parsed:
    """What a vendor request asks for, in vendor-neutral terms."""

    model: str
    stream: bool
    user_text: str
    scan: PromptScan
    tools: list[str] = field(default_factory=list)
    forced_tool: str | None = None  # a tool name; "" means "any tool"
    after_tool_result: bool = False
    thinking: bool = False
    include_usage: bool = False

    def tool_to_call(self) -> str | None:
        if not self.tools:
            return None
        if self.forced_tool is not None:
            return self.forced_tool or self.tools[0]
        if not self.after_tool_result and "weather" in self.user_text.lower():
            return self.tools[0]
        return None


@dataclass
class Plan:
    """The deterministic answer to one request."""

    parsed: Parsed
    chunks: int
    seq: int
    cache_read: int = 0
    cache_write: int = 0
    refused: bool = False
    tool: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.tool = self.parsed.tool_to_call()

    @property
    def model(self) -> str:
        return self.parsed.model

    @property
    def prompt(self) -> str:
        return strip_markers(self.parsed.user_text)

    @property
    def reply(self) -> str:
        if self.refused or self.tool:
            return ""
        return f"Echo: {self.prompt}"

    @property
    def thinking_text(self) -> str:
        if not self.parsed.thinking or self.refused:
            return ""
        return f"The user wrote: {self.prompt}. I will echo it back."

    @property
    def input_tokens(self) -> int:
        """Input tokens not read from or written to the prompt cache."""
        return max(0, self.parsed.scan.total_tokens() - self.cache_read - self.cache_write)

    @property
    def output_tokens(self) -> int:
        tool_tokens = count_tokens(TOOL_ARGUMENTS_JSON) if self.tool else 0
        return count_tokens(self.reply) + count_tokens(self.thinking_text) + tool_tokens

    @property
    def text_chunks(self) -> list[str]:
        return split_chunks(self.reply, self.chunks)

    @property
    def thinking_chunks(self) -> list[str]:
        return split_chunks(self.thinking_text, self.chunks)

    @property
    def argument_chunks(self) -> list[str]:
        return split_chunks(TOOL_ARGUMENTS_JSON, self.chunks)


def content_text(content: object) -> str:
    """Text of an OpenAI/Anthropic ``content``: a string, or a list of typed parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            parts.append(part["text"])
        elif part.get("type") == "tool_result":
            parts.append(content_text(part.get("content")))
    return " ".join(parts)


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def dumps(value: object) -> str:
    """Compact JSON, as the vendors stream it."""
    return json.dumps(value, separators=(",", ":"))
