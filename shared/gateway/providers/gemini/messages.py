"""OpenAI chat messages -> Gemini `systemInstruction` and `contents`.

References: https://ai.google.dev/api/caching#Content (Content, Part, FunctionCall,
FunctionResponse, Blob, FileData) and https://ai.google.dev/gemini-api/docs/function-calling.

- System and developer messages become `systemInstruction` (text parts only).
- Roles are "user" and "model"; consecutive turns of one role are merged, as
  LiteLLM does, so tool results answering parallel calls share one user turn.
- A tool message becomes a `functionResponse` part of a user turn. Gemini matches a
  response to its call by function name, which OpenAI's tool message lacks: it is
  taken from the assistant tool call with the same id. The tool's text is sent as
  `{"content": text}` (the response must be a JSON object; LiteLLM's key).
- Assistant tool calls become `functionCall` parts with their arguments parsed; the
  thought signature their id carries is put back on the part (calls.py). Gemini 3
  validates the first function call of each model turn, so one without a known
  signature gets Google's documented skip value there.
- Ids are not sent: Vertex AI's v1 FunctionCall has no id field, and Gemini pairs
  calls and responses by name and order.
- Images: base64 data URLs become `inlineData`; http(s) URLs become `fileData`, which
  Google fetches itself (the gateway never fetches a URL). Its mimeType is required by
  Vertex AI and is read from the file extension; a URL without a known image
  extension is refused (400) with a hint to send a data URL.
- `reasoning_content` of earlier turns is not replayed: Gemini reads thoughts only
  through their signatures.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gateway import errors
from gateway.providers.gemini.calls import SKIP_SIGNATURE, needs_signatures, signature_of
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

    from gateway.schemas.openai import ContentPart, Message, ToolCall

Part = dict[str, Any]
Content = dict[str, Any]

NEEDS_A_TURN = True  # `contents` may not be empty: a system instruction alone is no turn

# Image types Gemini documents (https://ai.google.dev/gemini-api/docs/image-understanding).
URL_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
}


def map_messages(messages: Sequence[Message], model: str) -> tuple[Content | None, list[Content]]:
    """Return (systemInstruction or None, contents)."""
    system: list[Part] = []
    contents: list[Content] = []
    names: dict[str, str] = {}  # tool call id -> function name, for the tool results
    signed = needs_signatures(model)
    for i, message in enumerate(messages):
        if isinstance(message, (SystemMessage, DeveloperMessage)):
            system.extend({"text": text} for text in _texts(message.content, i) if text)
            continue
        if isinstance(message, ToolMessage):
            role, parts = "user", [_function_response(message, i, names)]
        elif isinstance(message, AssistantMessage):
            role, parts = "model", _assistant(message, i, names, signed=signed)
        else:
            role, parts = "user", _user(message.content, i)
        if not parts:
            if role == "model":
                continue  # an empty assistant turn says nothing Gemini can carry
            raise errors.InvalidRequestError(
                "A user message has no content.", param=f"messages[{i}].content"
            )
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents:
        raise errors.InvalidRequestError(
            "This model's provider needs a user or assistant message besides system messages.",
            param="messages",
        )
    return ({"parts": system} if system else None), contents


def _texts(content: str | list[ContentPart], i: int) -> list[str]:
    """System, developer and tool messages carry text only."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for j, part in enumerate(content):
        if not isinstance(part, TextPart):
            raise unsupported_part(part.type, f"messages[{i}].content[{j}]")
        texts.append(part.text)
    return texts


def _user(content: str | list[ContentPart], i: int) -> list[Part]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[Part] = []
    for j, part in enumerate(content):
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(image_part(part.image_url.url, f"messages[{i}].content[{j}].image_url"))
        else:
            raise unsupported_part(part.type, f"messages[{i}].content[{j}]")
    return parts


def _assistant(
    message: AssistantMessage, i: int, names: dict[str, str], *, signed: bool
) -> list[Part]:
    parts: list[Part] = []
    content = message.content
    if isinstance(content, str):
        if content:
            parts.append({"text": content})
    elif content is not None:
        for j, part in enumerate(content):
            if isinstance(part, TextPart | RefusalPart):
                text = part.text if isinstance(part, TextPart) else part.refusal
                if text:
                    parts.append({"text": text})
            else:
                raise unsupported_part(part.type, f"messages[{i}].content[{j}]")
    if not parts and message.refusal:
        parts.append({"text": message.refusal})
    calls = [
        _function_call(call, f"messages[{i}].tool_calls[{k}]", names)
        for k, call in enumerate(message.tool_calls or ())
    ]
    if signed and calls and "thoughtSignature" not in calls[0]:
        calls[0]["thoughtSignature"] = SKIP_SIGNATURE
    return parts + calls


def _function_call(call: ToolCall, param: str, names: dict[str, str]) -> Part:
    names[call.id] = call.function.name
    args = tool_arguments(call.function.arguments, f"{param}.function.arguments")
    part: Part = {"functionCall": {"name": call.function.name, "args": args}}
    signature = signature_of(call.id)
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def _function_response(message: ToolMessage, i: int, names: dict[str, str]) -> Part:
    name = names.get(message.tool_call_id)
    if name is None:
        raise errors.InvalidRequestError(
            "A tool message must answer a tool call of an earlier assistant message; "
            "this model's provider needs that call's function name.",
            param=f"messages[{i}].tool_call_id",
        )
    text = "".join(_texts(message.content, i))
    return {"functionResponse": {"name": name, "response": {"content": text}}}


def image_part(url: str, param: str) -> Part:
    """An image_url (base64 data URL or http(s) URL) as an inlineData or fileData part."""
    if is_data_url(url):
        image = parse_data_url(url, param)
        return {"inlineData": {"mimeType": image.media_type, "data": image.data}}
    if not url.startswith(("https://", "http://")):
        raise errors.InvalidRequestError(
            "Image URLs must be http(s) or base64 data URLs.", param=param
        )
    extension = posixpath.splitext(urlsplit(url).path)[1].lower()
    mime_type = URL_IMAGE_TYPES.get(extension)
    if mime_type is None:
        raise errors.UnsupportedParameterError(
            "This model's provider needs an image URL to end in .png, .jpg, .jpeg, .webp, "
            ".heic or .heif; send other images as base64 data URLs.",
            param=param,
        )
    return {"fileData": {"mimeType": mime_type, "fileUri": url}}
