"""The second public wire format: Anthropic Messages (`POST /v1/messages`).

Reference: https://docs.anthropic.com/en/api/messages (anthropic-version 2023-06-01).
Known fields are strictly typed (`"stream": "yes"` is a 400, as at Anthropic); unknown
fields, block types, tool types, image sources and thinking types are kept, so a request
served natively by Anthropic is never refused for a feature newer than this module.
Whether a translated (chat) provider can honour them is decided elsewhere
(gateway.messages.support.untranslatable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from gateway.schemas.validation import validated

if TYPE_CHECKING:
    from collections.abc import Callable


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    # A generic model stands for a family of shapes we do not type (newer block types,
    # server tools...): its extra fields are its content, not unknown parameters.
    generic: ClassVar[bool] = False


class _Generic(_Wire):
    generic: ClassVar[bool] = True
    type: str


def _by_type(suffix: str, known: frozenset[str], fallback: str | None) -> Callable[[Any], Any]:
    """A discriminator: known `type` values get their own tag, others the fallback.

    Tags end in `-<suffix>` so that error locations can tell them from field names.
    """

    def tag(value: Any) -> str | None:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        if isinstance(kind, str) and kind in known:  # a list or an object is no tag: a 400
            return f"{kind}-{suffix}"
        return fallback

    return tag


def _tags(suffix: str, known: frozenset[str], fallback: str | None = None) -> Discriminator:
    return Discriminator(
        _by_type(suffix, known, fallback),
        custom_error_type="invalid_type_tag",
        custom_error_message=f"'type' must be one of {', '.join(sorted(known))}",
    )


class CacheControl(_Wire):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


# ---- content blocks --------------------------------------------------------------------


class TextBlock(_Wire):
    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None
    citations: list[dict[str, Any]] | None = None


class Base64Source(_Wire):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str


class URLSource(_Wire):
    type: Literal["url"]
    url: str


class OtherSource(_Generic):
    """e.g. `file` (the Files API)."""


ImageSource = Annotated[
    Annotated[Base64Source, Tag("base64-source")]
    | Annotated[URLSource, Tag("url-source")]
    | Annotated[OtherSource, Tag("other-source")],
    _tags("source", frozenset({"base64", "url"}), "other-source"),
]


class ImageBlock(_Wire):
    type: Literal["image"]
    source: ImageSource
    cache_control: CacheControl | None = None


class DocumentBlock(_Generic):
    type: Literal["document"]


class ToolUseBlock(_Wire):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]
    cache_control: CacheControl | None = None


class OtherBlock(_Generic):
    """A block type this module does not know (search_result, server tool blocks...)."""


ToolResultContent = Annotated[
    Annotated[TextBlock, Tag("text-block")]
    | Annotated[ImageBlock, Tag("image-block")]
    | Annotated[OtherBlock, Tag("other-block")],
    _tags("block", frozenset({"text", "image"}), "other-block"),
]


class ToolResultBlock(_Wire):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[ToolResultContent] | None = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None


class ThinkingBlock(_Wire):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(_Wire):
    type: Literal["redacted_thinking"]
    data: str


_BLOCKS = frozenset(
    {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"}
)

ContentBlock = Annotated[
    Annotated[TextBlock, Tag("text-block")]
    | Annotated[ImageBlock, Tag("image-block")]
    | Annotated[DocumentBlock, Tag("document-block")]
    | Annotated[ToolUseBlock, Tag("tool_use-block")]
    | Annotated[ToolResultBlock, Tag("tool_result-block")]
    | Annotated[ThinkingBlock, Tag("thinking-block")]
    | Annotated[RedactedThinkingBlock, Tag("redacted_thinking-block")]
    | Annotated[OtherBlock, Tag("other-block")],
    _tags("block", _BLOCKS, "other-block"),
]


class InputMessage(_Wire):
    # "system" turns are a newer API feature (the SDK's SystemMessageParam): text only.
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]


# ---- tools -----------------------------------------------------------------------------


class CustomTool(_Wire):
    type: Literal["custom"] | None = None
    # The API's own limits, which are also the chat function name's: translation is total.
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    input_schema: dict[str, Any]
    strict: bool | None = None
    cache_control: CacheControl | None = None


class ServerTool(_Generic):
    """A tool Anthropic runs itself (web_search_..., code_execution_..., bash_...)."""


def _tool_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "custom-tool" if kind in (None, "custom") else "server-tool"


Tool = Annotated[
    Annotated[CustomTool, Tag("custom-tool")] | Annotated[ServerTool, Tag("server-tool")],
    Discriminator(_tool_tag),
]


class ToolChoiceAuto(_Wire):
    type: Literal["auto"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(_Wire):
    type: Literal["any"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(_Wire):
    type: Literal["tool"]
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(_Wire):
    type: Literal["none"]


ToolChoice = Annotated[
    Annotated[ToolChoiceAuto, Tag("auto-choice")]
    | Annotated[ToolChoiceAny, Tag("any-choice")]
    | Annotated[ToolChoiceTool, Tag("tool-choice")]
    | Annotated[ToolChoiceNone, Tag("none-choice")],
    _tags("choice", frozenset({"auto", "any", "tool", "none"}), None),
]


# ---- thinking, output, metadata --------------------------------------------------------


class ThinkingEnabled(_Wire):
    type: Literal["enabled"]
    budget_tokens: int = Field(ge=1024)


class ThinkingDisabled(_Wire):
    type: Literal["disabled"]


class ThinkingAdaptive(_Wire):
    type: Literal["adaptive"]


class OtherThinking(_Generic):
    """A newer thinking mode (e.g. `between_tools`)."""


Thinking = Annotated[
    Annotated[ThinkingEnabled, Tag("enabled-thinking")]
    | Annotated[ThinkingDisabled, Tag("disabled-thinking")]
    | Annotated[ThinkingAdaptive, Tag("adaptive-thinking")]
    | Annotated[OtherThinking, Tag("other-thinking")],
    _tags("thinking", frozenset({"enabled", "disabled", "adaptive"}), "other-thinking"),
]


class JSONOutputFormat(_Wire):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Wire):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: JSONOutputFormat | None = None


class Metadata(_Wire):
    user_id: str | None = None
    tags: list[str] | None = None  # the gateway's extension: spend-log tags, as on chat


# ---- the request -----------------------------------------------------------------------


class MessagesRequest(_Wire):
    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    messages: list[InputMessage] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    metadata: Metadata | None = None
    service_tier: Literal["auto", "standard_only"] | None = None
    cache_control: CacheControl | None = None  # automatic prompt caching


def validate_messages(data: dict[str, Any]) -> MessagesRequest:
    return validated(MessagesRequest, data)
