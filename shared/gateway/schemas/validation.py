"""A request body validated against its wire model, or a 400 naming the field as the
API's own errors do (`messages[0].content[1].source`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Set

Model = TypeVar("Model", bound=BaseModel)

# Union branches pydantic names in an error's location ("str", "list[...]", "function-after").
_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})


def param_of(loc: tuple[int | str, ...], tags: Set[str] = frozenset()) -> str:
    """A pydantic error location as a `param`; `tags` are the discriminator tags pydantic
    inserts after a list index (a message's role, a part's type)."""
    out = ""
    after_index = False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            after_index = True
            continue
        if after_index and part in tags:
            after_index = False
            continue
        after_index = False
        if "[" in part or "-" in part or part in _TYPE_NAMES:
            continue
        out += f".{part}" if out else part
    return out


def validated(model: type[Model], data: dict[str, Any], tags: Set[str] = frozenset()) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Of a union's failed branches, the deepest location says the most.
        first = max(exc.errors(include_url=False, include_input=False), key=lambda e: len(e["loc"]))
        param = param_of(tuple(first["loc"]), tags)
        message = f"Invalid value for '{param}': {first['msg']}." if param else first["msg"]
        raise InvalidRequestError(message, param=param or None) from None
