"""The public wire format: OpenAI Chat Completions.

Inbound requests are pydantic models (validated once, in Rust); outbound
responses and chunks are TypedDicts, built directly as the dicts we serialize.
Reference: https://platform.openai.com/docs/api-reference/chat/create
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from typing_extensions import TypedDict


class _Wire(BaseModel):
    """Known fields are typed; unknown ones are kept (passed through to OpenAI upstreams)."""

    # strict: `"stream": "yes"` or `"max_tokens": "5"` is a 400, as at OpenAI.
    model_config = ConfigDict(extra="allow", strict=True)


# ---- content parts -------------------------------------------------------------------


class TextPart(_Wire):
    type: Literal["text"]
    text: str


class ImageURL(_Wire):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Wire):
    type: Literal["image_url"]
    image_url: ImageURL


class OtherPart(_Wire):
    """A part type we do not translate (audio, file, ...): OpenAI upstreams get it as is."""

    type: str


class RefusalPart(_Wire):
    type: Literal["refusal"]
    refusal: str


def _part_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("text", "image_url", "refusal") else "other"


ContentPart = Annotated[
    Annotated[TextPart, Tag("text")]
    | Annotated[ImagePart, Tag("image_url")]
    | Annotated[RefusalPart, Tag("refusal")]
    | Annotated[OtherPart, Tag("other")],
    Discriminator(_part_tag),
]


# ---- messages ------------------------------------------------------------------------


class FunctionCall(_Wire):
    name: str
    arguments: str


class ToolCall(_Wire):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Wire):
    role: Literal["system"]
    content: str | list[ContentPart]
    name: str | None = None


class DeveloperMessage(_Wire):
    role: Literal["developer"]
    content: str | list[ContentPart]
    name: str | None = None


class UserMessage(_Wire):
    role: Literal["user"]
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(_Wire):
    role: Literal["assistant"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    name: str | None = None
    # LiteLLM's extension: earlier reasoning returned to us, replayed where a dialect can.
    reasoning_content: str | None = None


class ToolMessage(_Wire):
    role: Literal["tool"]
    content: str | list[ContentPart]
    tool_call_id: str


Message = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage,
    Field(discriminator="role"),
]


# ---- tools and formats ---------------------------------------------------------------


class FunctionDefinition(_Wire):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Wire):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Wire):
    name: str


class NamedToolChoice(_Wire):
    type: Literal["function"]
    function: NamedFunction


class JSONSchemaFormat(_Wire):
    name: str
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None


class StreamOptions(_Wire):
    include_usage: bool | None = None


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class ChatCompletionRequest(_Wire):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    n: int | None = Field(default=None, ge=1)
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: ReasoningEffort | None = None

    @property
    def output_limit(self) -> int | None:
        """The client's cap on generated tokens, under either spelling."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    @property
    def wants_usage_chunk(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


# ---- outbound shapes -------------------------------------------------------------------

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class FunctionCallOut(TypedDict):
    name: str
    arguments: str


class ToolCallOut(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCallOut


class MessageOut(TypedDict):
    role: Literal["assistant"]
    content: str | None
    refusal: NotRequired[str | None]
    tool_calls: NotRequired[list[ToolCallOut]]
    reasoning_content: NotRequired[str]


class ChoiceOut(TypedDict):
    index: int
    message: MessageOut
    finish_reason: FinishReason
    logprobs: None


class PromptTokensDetails(TypedDict, total=False):
    cached_tokens: int


class CompletionTokensDetails(TypedDict, total=False):
    reasoning_tokens: int


class UsageOut(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: NotRequired[PromptTokensDetails]
    completion_tokens_details: NotRequired[CompletionTokensDetails]


class ChatCompletion(TypedDict):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChoiceOut]
    usage: NotRequired[UsageOut]
    system_fingerprint: NotRequired[str | None]


class FunctionDelta(TypedDict, total=False):
    name: str
    arguments: str


class ToolCallDelta(TypedDict):
    index: int
    id: NotRequired[str]
    type: NotRequired[Literal["function"]]
    function: FunctionDelta


class Delta(TypedDict, total=False):
    role: Literal["assistant"]
    content: str
    refusal: str
    reasoning_content: str
    tool_calls: list[ToolCallDelta]


class ChunkChoice(TypedDict):
    index: int
    delta: Delta
    finish_reason: FinishReason | None
    logprobs: None


class ChatCompletionChunk(TypedDict):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: NotRequired[UsageOut | None]
    system_fingerprint: NotRequired[str | None]
