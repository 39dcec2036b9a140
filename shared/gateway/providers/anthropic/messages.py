"""OpenAI chat messages -> Anthropic `system` blocks and alternating `messages`.

Anthropic keeps the system prompt out of the turns, wants user and assistant
turns to alternate, carries tool results inside user turns, and takes tool
call arguments as parsed JSON objects. A message's `name` has no Anthropic
equivalent and is not sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.errors import InvalidRequestError
from gateway.providers.images import is_data_url, parse_data_url
from gateway.providers.params import unsupported_part
from gateway.schemas.nesting import tool_arguments
from gateway.schemas.openai import (
    AssistantMessage,
    DeveloperMessage,
    ImagePart,
    RefusalPart,
    SystemMessage,
    TextPart,
    ToolMessage,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.schemas.openai import ContentPart, Message, UserMessage

Block = dict[str, Any]
Turn = dict[str, Any]

NEEDS_A_TURN = True  # `messages` may not be empty: the system prompt alone is no turn


def map_messages(messages: Sequence[Message]) -> tuple[list[Block], list[Turn]]:
    """Return (system blocks, turns); consecutive same-role turns are merged in order."""
    system: list[Block] = []
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        if isinstance(message, (SystemMessage, DeveloperMessage)):
            system.extend(_text_only(message.content, f"messages[{i}].content"))
            continue
        role, blocks = _turn(message, i)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if not turns:
        raise InvalidRequestError(
            "This model's provider needs a user or assistant message besides system messages.",
            param="messages",
        )
    return system, turns


def _turn(message: UserMessage | AssistantMessage | ToolMessage, i: int) -> tuple[str, list[Block]]:
    if isinstance(message, ToolMessage):
        return "user", [_tool_result(message, i)]
    if isinstance(message, AssistantMessage):
        return "assistant", _assistant(message, i)
    return "user", _parts(message.content, f"messages[{i}].content")


def _text(text: str) -> list[Block]:
    # The API rejects empty text blocks; OpenAI clients send "" freely.
    return [{"type": "text", "text": text}] if text else []


def _text_only(content: str | list[ContentPart], param: str) -> list[Block]:
    if isinstance(content, str):
        return _text(content)
    blocks: list[Block] = []
    for j, part in enumerate(content):
        if not isinstance(part, TextPart):
            raise unsupported_part(part.type, f"{param}[{j}]")
        blocks.extend(_text(part.text))
    return blocks


def _parts(content: str | list[ContentPart], param: str) -> list[Block]:
    """Text and image parts, for user turns and tool results."""
    if isinstance(content, str):
        return _text(content)
    blocks: list[Block] = []
    for j, part in enumerate(content):
        if isinstance(part, TextPart):
            blocks.extend(_text(part.text))
        elif isinstance(part, ImagePart):
            blocks.append(image_block(part.image_url.url, f"{param}[{j}].image_url.url"))
        else:
            raise unsupported_part(part.type, f"{param}[{j}]")
    return blocks


def _assistant(message: AssistantMessage, i: int) -> list[Block]:
    # reasoning_content is dropped: Anthropic only replays thinking with its
    # signature, which an OpenAI-shaped history does not carry.
    blocks: list[Block] = []
    content = message.content
    if isinstance(content, str):
        blocks.extend(_text(content))
    elif content is not None:
        for j, part in enumerate(content):
            if isinstance(part, TextPart):
                blocks.extend(_text(part.text))
            elif isinstance(part, RefusalPart):
                blocks.extend(_text(part.refusal))
            else:
                raise unsupported_part(part.type, f"messages[{i}].content[{j}]")
    if not blocks and message.refusal:
        blocks.extend(_text(message.refusal))
    for k, call in enumerate(message.tool_calls or ()):
        param = f"messages[{i}].tool_calls[{k}].function.arguments"
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": tool_arguments(call.function.arguments, param),
            }
        )
    return blocks


def _tool_result(message: ToolMessage, i: int) -> Block:
    block: Block = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    if isinstance(message.content, str):
        if message.content:
            block["content"] = message.content
        return block
    content = _parts(message.content, f"messages[{i}].content")
    if content:
        block["content"] = content
    return block


def image_block(url: str, param: str) -> Block:
    """An image_url (https URL or base64 data URL) as an Anthropic image block."""
    if is_data_url(url):
        image = parse_data_url(url, param)
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": image.media_type, "data": image.data},
        }
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequestError("Image URLs must be http(s) or base64 data URLs.", param=param)
