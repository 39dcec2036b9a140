"""Validate dicts against a vendor SDK's own types, strictly.

The SDKs' request types are TypedDicts whose lists are typed Iterable[...]. A plain
TypeAdapter validates an Iterable lazily (as a generator, so nested items are never
checked) and ignores unknown keys. Here generators become lists, and validation runs
with extra="forbid" (or "allow" for a vendor's documented additions), which applies to
every TypedDict and model in the tree.
"""

from __future__ import annotations

import functools
from typing import Any

import pydantic
import pydantic_core


def _eager(node: Any) -> Any:
    if isinstance(node, list):
        return [_eager(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _eager(value) for key, value in node.items()}
    if node.get("type") == "generator":
        node["type"] = "list"
    return node


@functools.cache
def sdk_validator(tp: Any) -> pydantic_core.SchemaValidator:
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        tp.model_rebuild(force=True)  # the SDKs' models defer building their schema
        schema = tp.__pydantic_core_schema__
    else:
        schema = pydantic.TypeAdapter(tp).core_schema
    return pydantic_core.SchemaValidator(_eager(schema))


def sdk_validate(tp: Any, value: Any, *, strict: bool = True) -> None:
    sdk_validator(tp).validate_python(value, extra="forbid" if strict else "allow")
