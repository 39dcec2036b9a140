"""Anthropic Messages request -> ChatCompletionRequest, for providers that speak chat.

Decisions a reader could not guess:
- A list of text blocks becomes one string, joined with a blank line, wherever chat has
  one text field: system, assistant text, reasoning, tool results. Several
  OpenAI-compatible servers take only strings there. User turns keep their parts.
- `tool_result` blocks become `tool` messages, in order, before the rest of their user
  turn: chat wants tool answers right after the assistant's calls.
- `is_error`: chat tool messages have no error flag, so the content is prefixed with
  "Error: "; nothing else would tell the model that the call failed.
- Images in a tool result: chat's tool messages carry text only (OpenAI refuses image
  parts there), so they follow the tool messages in a user message, introduced by
  IMAGES_FROM with the call's id.
- Thinking: a budget maps to reasoning_effort by the inverse of THINKING_BUDGETS (below
  2048 low, below 4096 medium, else high; never xhigh, which few models take). Adaptive
  thinking takes `output_config.effort` (max -> xhigh), else medium. Disabled sets none.
  Replayed thinking becomes the assistant's `reasoning_content` (the signature only
  Anthropic can check); redacted thinking, encrypted for Claude alone, is dropped.
- `cache_control` is a caching hint: the answer is the same without it, and chat
  providers cache prompt prefixes by themselves or not at all. Ignored, as are
  citations on replayed text (where earlier text came from, not what to do).
- `service_tier`: both values hold on a provider without Anthropic's priority tier.
- Blocks with no chat equivalent become `{"type": <block type>}` parts, so translation
  is total and estimates count them as media; `untranslatable` refuses them first.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gateway.providers.params import THINKING_BUDGETS
from gateway.schemas.anthropic import (
    Base64Source,
    CustomTool,
    DocumentBlock,
    ImageBlock,
    OtherBlock,
    OtherSource,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingAdaptive,
    ThinkingBlock,
    ThinkingEnabled,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)
from gateway.schemas.openai import ChatCompletionRequest

if TYPE_CHECKING:
    from gateway.schemas.anthropic import (
        ContentBlock,
        InputMessage,
        MessagesRequest,
        ToolChoice,
        ToolResultContent,
    )
    from gateway.schemas.openai import ReasoningEffort

Part = dict[str, Any]
ChatMessage = dict[str, Any]

JOIN = "\n\n"
ERROR_PREFIX = "Error: "
IMAGES_FROM = "Images returned by tool call {}:"

# Blocks each role's chat message can carry.
ROLE_BLOCKS: dict[str, tuple[type, ...]] = {
    "user": (TextBlock, ImageBlock, ToolResultBlock),
    "assistant": (TextBlock, ToolUseBlock, ThinkingBlock, RedactedThinkingBlock),
    "system": (TextBlock,),
}

EFFORTS: dict[str, ReasoningEffort] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "xhigh",
}
ADAPTIVE_EFFORT: ReasoningEffort = "medium"


def to_chat(request: MessagesRequest) -> ChatCompletionRequest:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": _messages(request),
        "max_tokens": request.max_tokens,
    }
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if request.stop_sequences:
        body["stop"] = list(request.stop_sequences)
    for name in ("temperature", "top_p", "top_k"):  # top_k: an extra chat servers accept
        if getattr(request, name) is not None:
            body[name] = getattr(request, name)
    if request.tools:
        tools = [_tool(tool) for tool in request.tools if isinstance(tool, CustomTool)]
        if tools:  # server tools are refused by untranslatable()
            body["tools"] = tools
    if request.tool_choice is not None:
        body.update(_tool_choice(request.tool_choice))
    effort = reasoning_effort(request)
    if effort is not None:
        body["reasoning_effort"] = effort
    if request.output_config and request.output_config.format:
        schema = request.output_config.format.schema_
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True},
        }
    if request.metadata and request.metadata.user_id is not None:
        body["user"] = request.metadata.user_id
    if request.metadata and request.metadata.tags is not None:
        body["metadata"] = {"tags": list(request.metadata.tags)}
    return ChatCompletionRequest.model_validate(body)


def reasoning_effort(request: MessagesRequest) -> ReasoningEffort | None:
    thinking = request.thinking
    if isinstance(thinking, ThinkingEnabled):
        if thinking.budget_tokens < THINKING_BUDGETS["medium"]:
            return "low"
        return "medium" if thinking.budget_tokens < THINKING_BUDGETS["high"] else "high"
    if thinking is not None and not isinstance(thinking, ThinkingAdaptive):
        return None  # disabled (or a mode untranslatable() refuses)
    effort = request.output_config.effort if request.output_config else None
    if effort is not None:
        return EFFORTS[effort]
    return ADAPTIVE_EFFORT if thinking is not None else None


# ---- messages ------------------------------------------------------------------------


def _messages(request: MessagesRequest) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    if request.system is not None:
        system = _system_content(request.system)
        if system:
            out.append({"role": "system", "content": system})
    for message in request.messages:
        out.extend(_turn(message))
    return out


def _system_content(system: str | list[TextBlock]) -> str:
    return system if isinstance(system, str) else JOIN.join(block.text for block in system)


def _turn(message: InputMessage) -> list[ChatMessage]:
    if isinstance(message.content, str):
        return [{"role": message.role, "content": message.content}]
    if message.role == "assistant":
        return [_assistant(message.content)]
    if message.role == "system":
        parts = [_part(block, "system") for block in message.content]
        return [{"role": "system", "content": _text_or_parts(parts)}]
    tools: list[ChatMessage] = []
    media: list[Part] = []
    for block in message.content:
        if isinstance(block, ToolResultBlock):
            tool, images = _tool_message(block)
            tools.append(tool)
            media += images
    rest = [_part(b, "user") for b in message.content if not isinstance(b, ToolResultBlock)]
    rest = media + rest
    # A turn of tool results alone needs no user message; an empty turn stays one.
    return tools + ([{"role": "user", "content": rest}] if rest or not tools else [])


def _assistant(blocks: list[ContentBlock]) -> ChatMessage:
    parts: list[Part] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, ThinkingBlock):
            thoughts.append(block.thinking)
        elif isinstance(block, ToolUseBlock):
            arguments = json.dumps(block.input, separators=(",", ":"), ensure_ascii=False)
            function = {"name": block.name, "arguments": arguments}
            calls.append({"id": block.id, "type": "function", "function": function})
        elif not isinstance(block, RedactedThinkingBlock):
            parts.append(_part(block, "assistant"))
    message: ChatMessage = {"role": "assistant", "content": _text_or_parts(parts)}
    if calls:
        message["tool_calls"] = calls
        if not parts:
            message["content"] = None
    if thoughts:
        message["reasoning_content"] = JOIN.join(thoughts)
    return message


def _tool_message(block: ToolResultBlock) -> tuple[ChatMessage, list[Part]]:
    """The tool message (text only: chat's tool messages take no images) and the result's
    other parts, which follow in a user message, introduced by IMAGES_FROM."""
    content = block.content
    body = content or "" if content is None or isinstance(content, str) else ""
    media: list[Part] = []
    if isinstance(content, list):
        parts = [_part(item) for item in content]
        body = JOIN.join(part["text"] for part in parts if part["type"] == "text")
        media = [part for part in parts if part["type"] != "text"]
    if block.is_error:
        body = (ERROR_PREFIX + body).rstrip()
    if media:
        note: Part = {"type": "text", "text": IMAGES_FROM.format(block.tool_use_id)}
        media = [note, *media]
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": body}, media


def _text_or_parts(parts: list[Part]) -> str | list[Part]:
    if all(part["type"] == "text" for part in parts):
        return JOIN.join(part["text"] for part in parts)
    return parts


def _part(block: ContentBlock | ToolResultContent, role: str = "user") -> Part:
    """A block as a chat content part; one chat cannot carry is a typed placeholder."""
    if not translatable(block, role):
        return {"type": block.type}
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ImageBlock):
        source = block.source
        if isinstance(source, Base64Source):
            url = f"data:{source.media_type};base64,{source.data}"
            return {"type": "image_url", "image_url": {"url": url}}
        if isinstance(source, URLSource):
            return {"type": "image_url", "image_url": {"url": source.url}}
    return {"type": block.type}


def translatable(block: ContentBlock | ToolResultContent, role: str) -> bool:
    if isinstance(block, (DocumentBlock, OtherBlock)):
        return False
    if isinstance(block, ImageBlock) and isinstance(block.source, OtherSource):
        return False
    return isinstance(block, ROLE_BLOCKS[role])


# ---- tools -----------------------------------------------------------------------------


def _tool(tool: CustomTool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice) -> dict[str, Any]:
    if isinstance(choice, ToolChoiceNone):
        return {"tool_choice": "none"}
    out: dict[str, Any] = {}
    if isinstance(choice, ToolChoiceAuto):
        out["tool_choice"] = "auto"
    elif isinstance(choice, ToolChoiceAny):
        out["tool_choice"] = "required"
    else:
        out["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    if choice.disable_parallel_tool_use:
        out["parallel_tool_calls"] = False
    return out
