"""The third public wire format: OpenAI Responses create (`POST /v1/responses`).

Reference: https://platform.openai.com/docs/api-reference/responses/create, as in
OpenAI's openapi spec (`CreateResponse`, `InputItem`, `Tool`) and the openai SDK's
`ResponseCreateParams`.

Decisions a reader could not guess:
- Top-level fields are closed: an unknown one is a 400 "Unknown parameter", as at
  OpenAI (validate_responses). Every field the spec has is declared, the rarely used
  ones loosely (`dict`), so a request OpenAI takes is never refused here.
- Nested objects keep unknown fields, and unknown item, part, tool and tool-choice
  types are kept generically (`generic`), so a request served natively by OpenAI is
  never refused for a feature newer than this module. Whether a chat provider can
  honour them is decided elsewhere (gateway.responses.support.untranslatable).
- Known fields are strictly typed (`"stream": "yes"` is a 400, as at OpenAI).
- Content parts follow the role, as OpenAI enforces beyond its spec: an assistant
  message takes only output_text and refusal parts; user, system and developer
  messages take no output parts.
- An item with no `type` is a message if it has a `role`, else an item reference
  (the spec makes both types optional).
- `store` defaults to true, and an explicit null means the default.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gateway.errors import InvalidRequestError
from gateway.schemas.validation import validated


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    # A generic model stands for a family of shapes we do not type (hosted tools, newer
    # item kinds...): its extra fields are its content, not unknown parameters.
    generic: ClassVar[bool] = False


class _Generic(_Wire):
    generic: ClassVar[bool] = True
    type: str


def _kind(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


def _tags(
    suffix: str, known: frozenset[str], fallback: str | None, refused: frozenset[str] = frozenset()
) -> Discriminator:
    """Known `type`s get their own tag (`<type>-<suffix>`: the dash keeps tags out of
    error params), unknown ones the fallback, `refused` ones none (a 400)."""

    def tag(value: Any) -> str | None:
        kind = _kind(value)
        if not isinstance(kind, str):  # a list or an object (unhashable) is no tag: a 400
            return fallback
        if kind in known:
            return f"{kind}-{suffix}"
        return None if kind in refused or fallback is None else fallback

    return Discriminator(
        tag,
        custom_error_type="invalid_type_tag",
        custom_error_message=f"'type' must be one of {', '.join(sorted(known))}",
    )


Status = Literal["in_progress", "completed", "incomplete"]
ImageDetail = Literal["auto", "low", "high", "original"]


# ---- content parts ---------------------------------------------------------------------


class InputText(_Wire):
    type: Literal["input_text"]
    text: str
    prompt_cache_breakpoint: dict[str, Any] | None = None  # a caching hint


class InputImage(_Wire):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: ImageDetail | None = None  # OpenAI's default: auto
    prompt_cache_breakpoint: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _has_source(self) -> InputImage:
        if self.image_url is None and self.file_id is None:
            raise PydanticCustomError("missing_source", "an image needs image_url or file_id")
        return self


class InputFile(_Wire):
    type: Literal["input_file"]
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None
    detail: Literal["auto", "low", "high"] | None = None
    prompt_cache_breakpoint: dict[str, Any] | None = None


class OtherPart(_Generic):
    """An input part type this module does not know (e.g. `input_audio`)."""


class OutputText(_Wire):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


class Refusal(_Wire):
    type: Literal["refusal"]
    refusal: str


_INPUT_PARTS = frozenset({"input_text", "input_image", "input_file"})
_OUTPUT_PARTS = frozenset({"output_text", "refusal"})

InputPart = Annotated[
    Annotated[InputText, Tag("input_text-part")]
    | Annotated[InputImage, Tag("input_image-part")]
    | Annotated[InputFile, Tag("input_file-part")]
    | Annotated[OtherPart, Tag("other-part")],
    _tags("part", _INPUT_PARTS, "other-part", refused=_OUTPUT_PARTS),
]

OutputPart = Annotated[
    Annotated[OutputText, Tag("output_text-part")] | Annotated[Refusal, Tag("refusal-part")],
    _tags("part", _OUTPUT_PARTS, None),
]


# ---- items -------------------------------------------------------------------------------


class InputMessage(_Wire):
    """A user, system or developer message; `type` may be omitted ("easy" messages)."""

    type: Literal["message"] | None = None
    role: Literal["user", "system", "developer"]
    content: str | list[InputPart]
    id: str | None = None
    status: Status | None = None


class OutputMessage(_Wire):
    """An assistant message: an earlier answer, replayed."""

    type: Literal["message"] | None = None
    role: Literal["assistant"]
    content: str | list[OutputPart]
    id: str | None = None
    status: Status | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCall(_Wire):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: str | None = None
    status: Status | None = None


class FunctionCallOutput(_Wire):
    type: Literal["function_call_output"]
    # Optional in the spec (calls made by a hosted program have none); chat needs one.
    call_id: str | None = None
    output: str | list[InputPart]
    id: str | None = None
    status: Status | None = None
    name: str | None = None


class SummaryText(_Wire):
    type: Literal["summary_text"]
    text: str


class ReasoningText(_Wire):
    type: Literal["reasoning_text"]
    text: str


class ReasoningItem(_Wire):
    type: Literal["reasoning"]
    id: str
    summary: list[SummaryText]
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None
    status: Status | None = None


class ItemReference(_Wire):
    type: Literal["item_reference"] | None = None
    id: str


class OtherItem(_Generic):
    """An item type this module does not know or translate (hosted tool calls, MCP...)."""


_ITEMS = frozenset({"function_call", "function_call_output", "reasoning", "item_reference"})


def _item_tag(value: Any) -> str | None:
    if not isinstance(value, (dict, BaseModel)):
        return None
    kind = _kind(value)
    if kind is None or kind == "message":
        role = value.get("role") if isinstance(value, dict) else getattr(value, "role", None)
        if kind is None and role is None:
            return "item_reference-item"
        return "output_message-item" if role == "assistant" else "input_message-item"
    return f"{kind}-item" if isinstance(kind, str) and kind in _ITEMS else "other-item"


InputItem = Annotated[
    Annotated[InputMessage, Tag("input_message-item")]
    | Annotated[OutputMessage, Tag("output_message-item")]
    | Annotated[FunctionCall, Tag("function_call-item")]
    | Annotated[FunctionCallOutput, Tag("function_call_output-item")]
    | Annotated[ReasoningItem, Tag("reasoning-item")]
    | Annotated[ItemReference, Tag("item_reference-item")]
    | Annotated[OtherItem, Tag("other-item")],
    Discriminator(
        _item_tag,
        custom_error_type="invalid_item",
        custom_error_message="an input item must be an object",
    ),
]


# ---- tools and tool choice -------------------------------------------------------------


class FunctionTool(_Wire):
    type: Literal["function"]
    # The limits of chat's function name, so that translation is total.
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None  # omitted: OpenAI makes the schema strict itself


class HostedTool(_Generic):
    """web_search, file_search, code_interpreter, mcp, custom, ...: kept by type."""


Tool = Annotated[
    Annotated[FunctionTool, Tag("function-tool")] | Annotated[HostedTool, Tag("hosted-tool")],
    _tags("tool", frozenset({"function"}), "hosted-tool"),
]


class ToolChoiceFunction(_Wire):
    type: Literal["function"]
    name: str


class ToolChoiceAllowed(_Wire):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class OtherToolChoice(_Generic):
    """A hosted tool, an MCP server's tool, a custom tool...: kept by type."""


ToolChoiceMode = Literal["none", "auto", "required"]


def _choice_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "mode-choice"
    if not isinstance(value, (dict, BaseModel)):
        return None
    kind = _kind(value)
    return f"{kind}-choice" if kind in ("function", "allowed_tools") else "other-choice"


ToolChoice = Annotated[
    Annotated[ToolChoiceMode, Tag("mode-choice")]
    | Annotated[ToolChoiceFunction, Tag("function-choice")]
    | Annotated[ToolChoiceAllowed, Tag("allowed_tools-choice")]
    | Annotated[OtherToolChoice, Tag("other-choice")],
    Discriminator(
        _choice_tag,
        custom_error_type="invalid_tool_choice",
        custom_error_message="tool_choice must be 'none', 'auto', 'required' or an object",
    ),
]


# ---- reasoning, text, the rest -----------------------------------------------------------

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
SummaryMode = Literal["auto", "concise", "detailed"]


class Reasoning(_Wire):
    effort: Effort | None = None
    summary: SummaryMode | None = None
    generate_summary: SummaryMode | None = None  # deprecated spelling of summary


class FormatText(_Wire):
    type: Literal["text"]


class FormatJSONObject(_Wire):
    type: Literal["json_object"]


class FormatJSONSchema(_Wire):
    type: Literal["json_schema"]
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


TextFormat = Annotated[
    Annotated[FormatText, Tag("text-format")]
    | Annotated[FormatJSONObject, Tag("json_object-format")]
    | Annotated[FormatJSONSchema, Tag("json_schema-format")],
    _tags("format", frozenset({"text", "json_object", "json_schema"}), None),
]


class Text(_Wire):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class StreamOptions(_Wire):
    include_obfuscation: bool | None = None


class Prompt(_Wire):
    id: str
    version: str | None = None
    variables: dict[str, Any] | None = None


class ConversationRef(_Wire):
    id: str


Conversation = Annotated[
    Annotated[str, Tag("id-conversation")] | Annotated[ConversationRef, Tag("object-conversation")],
    Discriminator(
        lambda value: "id-conversation" if isinstance(value, str) else "object-conversation"
    ),
]


Metadata = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]],
    Field(max_length=16),
]

ServiceTier = Literal["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"]


# ---- the request -----------------------------------------------------------------------


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1)
    input: str | list[InputItem] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    text: Text | None = None
    max_output_tokens: int | None = Field(default=None, ge=16)
    max_tool_calls: int | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    metadata: Metadata | None = None
    user: str | None = None
    safety_identifier: str | None = Field(default=None, max_length=64)
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    prompt_cache_options: dict[str, Any] | None = None
    service_tier: ServiceTier | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    background: bool | None = None
    background_options: dict[str, Any] | None = None
    conversation: Conversation | None = None
    prompt: Prompt | None = None
    context_management: list[dict[str, Any]] | None = None
    moderation: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    access_programs: dict[str, Any] | None = None

    @field_validator("store", mode="before")
    @classmethod
    def _store_default(cls, value: Any) -> Any:
        return True if value is None else value


def validate_responses(data: dict[str, Any]) -> ResponsesRequest:
    for name in data:
        if name not in ResponsesRequest.model_fields:
            raise InvalidRequestError(
                f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
            )
    return validated(ResponsesRequest, data)


class ConversationItems(BaseModel):
    """A whole conversation's items (earlier turns', then this request's), for reading."""

    model_config = ConfigDict(strict=True)

    input: list[InputItem]


def parse_items(items: list[dict[str, Any]]) -> list[InputItem]:
    """Plain item dicts as typed items; an error names the position in `items`."""
    return validated(ConversationItems, {"input": items}).input
