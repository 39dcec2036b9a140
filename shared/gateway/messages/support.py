"""What a chat provider cannot honour in a Messages request, and which betas pass.

A Messages request served by a non-Claude model goes through chat
(gateway/messages/to_chat.py). Anything chat cannot carry (documents, server tools,
newer block types and fields, betas that ask for Claude-only features) is a 400
naming it, never a silent loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from gateway.errors import UnsupportedParameterError
from gateway.messages.to_chat import translatable
from gateway.schemas.anthropic import (
    DocumentBlock,
    ImageBlock,
    OtherBlock,
    OtherSource,
    OtherThinking,
    ServerTool,
    ToolResultBlock,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from gateway.errors import GatewayError
    from gateway.schemas.anthropic import ContentBlock, MessagesRequest, ToolResultContent

# Fields of typed objects that only tune how Anthropic streams or caches.
HINTS = frozenset({"eager_input_streaming"})

# Betas (by prefix) that change nothing a translation could get wrong: Claude Code's
# marker, how Claude streams tool input or paces thinking, caching and counting hints.
# Claude Code sends some with every request; refusing them would shut it out.
TRANSLATABLE_BETAS = (
    "claude-code-",
    "interleaved-thinking-",
    "fine-grained-tool-streaming-",
    "token-efficient-tools-",
    "prompt-caching-",
    "token-counting-",
)


def untranslatable(request: MessagesRequest) -> GatewayError | None:
    """The first feature of the request a chat provider cannot honour, as a 400."""
    for param, message in _problems(request):
        return UnsupportedParameterError(message, param=param)
    return None


def refuse_betas(betas: Sequence[str]) -> None:
    """Betas change what the API does; a chat provider honours none beyond the harmless."""
    for value in betas:
        for beta in (name.strip() for name in value.split(",")):
            if beta and not beta.startswith(TRANSLATABLE_BETAS):
                raise UnsupportedParameterError(
                    f"The anthropic-beta header value '{beta}' cannot be honoured by this "
                    "model's provider.",
                    param="anthropic-beta",
                )


def _cannot(what: str) -> str:
    return f"{what} cannot be honoured by this model's provider."


def _problems(request: MessagesRequest) -> Iterator[tuple[str, str]]:
    for name in request.model_extra or {}:
        yield name, _cannot(f"The '{name}' parameter")
    for i, message in enumerate(request.messages):
        if not isinstance(message.content, str):
            for j, block in enumerate(message.content):
                yield from _block_problems(block, message.role, f"messages[{i}].content[{j}]")
    for k, tool in enumerate(request.tools or ()):
        if isinstance(tool, ServerTool):
            yield f"tools[{k}]", _cannot(f"The server tool '{tool.type}'")
    if isinstance(request.thinking, OtherThinking):
        yield "thinking.type", _cannot(f"Thinking of type '{request.thinking.type}'")
    yield from _extras(request, "")


def _block_problems(
    block: ContentBlock | ToolResultContent, role: str, param: str
) -> Iterator[tuple[str, str]]:
    if isinstance(block, ImageBlock) and isinstance(block.source, OtherSource):
        yield f"{param}.source", _cannot(f"An image source of type '{block.source.type}'")
    elif isinstance(block, (DocumentBlock, OtherBlock)):
        yield param, _cannot(f"A content block of type '{block.type}'")
    elif not translatable(block, role):
        yield param, _cannot(f"A '{block.type}' block in a {role} turn")
    elif isinstance(block, ToolResultBlock) and isinstance(block.content, list):
        for k, item in enumerate(block.content):
            yield from _block_problems(item, "user", f"{param}.content[{k}]")


def _extras(model: BaseModel, path: str) -> Iterator[tuple[str, str]]:
    """Fields of typed objects that we do not know: their effect cannot be honoured."""
    prefix = f"{path}." if path else ""
    if path:  # the request's own extras were named first, by _problems
        for name in model.model_extra or {}:
            if name not in HINTS:
                yield f"{prefix}{name}", _cannot(f"'{prefix}{name}'")
    for name in type(model).model_fields:
        yield from _walk(getattr(model, name), f"{prefix}{name}")


def _walk(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(value, BaseModel) and not getattr(value, "generic", True):
        # Generic objects (newer block types, server tools) were judged by their type.
        yield from _extras(value, path)
