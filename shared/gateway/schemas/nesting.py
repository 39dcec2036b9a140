"""How deep a request's JSON may nest: the body itself (http/body.py) and the JSON a
caller writes inside a string (a tool call's `arguments`), which a dialect parses into
the upstream body. orjson, which writes every upstream body, refuses more than 254
levels, and the stdlib's `json.loads` overflows the stack near 1000: both would be 500s.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import InvalidRequestError

MAX_DEPTH = 64


class NestingError(ValueError):
    """JSON that nests deeper than MAX_DEPTH."""


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` deep. Iterative."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in node)
    return False


def object_from(text: str) -> dict[str, Any]:
    """The JSON object `text` writes (blank: {}, a call without arguments). ValueError for
    anything else; NestingError for more than MAX_DEPTH levels. orjson parses without
    recursion (over 1024 levels is its decode error) and reads an integer too big for
    64 bits as a float, which its own writer would refuse."""
    if not text.strip():
        return {}
    value = orjson.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    if depth_exceeds(value):
        raise NestingError(f"nests deeper than {MAX_DEPTH} levels")
    return value


def tool_arguments(text: str, param: str) -> dict[str, Any]:
    """A caller's tool-call `arguments` string as the object a dialect sends, or a 400
    naming the field."""
    try:
        return object_from(text)
    except NestingError:
        raise InvalidRequestError(
            f"Tool call arguments nest deeper than {MAX_DEPTH} levels.", param=param
        ) from None
    except ValueError:
        message = "Tool call arguments must be a JSON object."
        raise InvalidRequestError(message, param=param) from None
