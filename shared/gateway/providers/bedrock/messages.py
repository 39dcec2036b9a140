"""OpenAI messages -> Converse `system` and `messages`.

Converse takes system text at the top level, wants user and assistant turns to
alternate starting with the user, and carries tool results inside a user turn.
Images must be inline bytes: Bedrock cannot fetch URLs, and the gateway will not
fetch them for it (that would let clients make it request arbitrary URLs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway import errors
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
    from gateway.schemas.openai import ContentPart, Message, ToolCall

Block = dict[str, Any]
Turn = dict[str, Any]

NEEDS_A_TURN = True  # the system prompt alone is no turn (map_messages refuses it)


def map_messages(messages: list[Message]) -> tuple[list[Block], list[Turn]]:
    """Return (system blocks, alternating turns); consecutive same-role turns merge."""
    system: list[Block] = []
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        if isinstance(message, (SystemMessage, DeveloperMessage)):
            system.extend({"text": text} for text in _texts(message.content, i) if text)
            continue
        role, blocks = _turn(message, i)
        if not blocks:
            if role == "assistant":
                continue  # an empty assistant turn says nothing Converse can carry
            raise errors.InvalidRequestError(
                "A user message has no content.", param=f"messages[{i}].content"
            )
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if not turns or turns[0]["role"] != "user":
        raise errors.InvalidRequestError(
            "This model's provider needs the first non-system message to be from the user.",
            param="messages",
        )
    return system, turns


def has_tool_blocks(turns: list[Turn]) -> bool:
    return any("toolUse" in b or "toolResult" in b for t in turns for b in t["content"])


def _turn(message: Message, i: int) -> tuple[str, list[Block]]:
    if isinstance(message, ToolMessage):
        content = [{"text": text} for text in _texts(message.content, i) if text]
        result = {"toolUseId": message.tool_call_id, "content": content, "status": "success"}
        return "user", [{"toolResult": result}]
    if isinstance(message, AssistantMessage):
        # reasoning_content is not replayed: Converse needs the signature it came with.
        blocks = _content(message.content, i, allow_images=False)
        if message.refusal and not blocks:
            blocks.append({"text": message.refusal})
        for j, call in enumerate(message.tool_calls or ()):
            blocks.append(_tool_use(call, f"messages[{i}].tool_calls[{j}]"))
        return "assistant", blocks
    return "user", _content(message.content, i, allow_images=True)


def _content(content: str | list[ContentPart] | None, i: int, *, allow_images: bool) -> list[Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[Block] = []
    for j, part in enumerate(content):
        param = f"messages[{i}].content[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"text": part.text})
        elif isinstance(part, RefusalPart) and not allow_images:
            blocks.append({"text": part.refusal})
        elif isinstance(part, ImagePart) and allow_images:
            blocks.append(_image(part.image_url.url, f"{param}.image_url"))
        else:
            raise unsupported_part(part.type, param)
    return blocks


def _texts(content: str | list[ContentPart], i: int) -> list[str]:
    """System and tool messages carry text only."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for j, part in enumerate(content):
        if not isinstance(part, TextPart):
            raise errors.UnsupportedParameterError(
                "Only text parts are supported in system, developer and tool messages "
                "by this model's provider.",
                param=f"messages[{i}].content[{j}]",
            )
        texts.append(part.text)
    return texts


def _image(url: str, param: str) -> Block:
    if not is_data_url(url):
        raise errors.UnsupportedParameterError(
            "This model's provider cannot fetch image URLs; send the image as a base64 data URL.",
            param=param,
        )
    image = parse_data_url(url, param)
    # In Converse's REST JSON a blob member is the base64 text itself.
    return {"image": {"format": image.format, "source": {"bytes": image.data}}}


def _tool_use(call: ToolCall, param: str) -> Block:
    arguments = tool_arguments(call.function.arguments, f"{param}.function.arguments")
    return {"toolUse": {"toolUseId": call.id, "name": call.function.name, "input": arguments}}
