"""Validate values against OpenAI's published OpenAPI schema (the parts the gateway serves).

`validate("Response", body)` checks `body` against `#/components/schemas/Response` with
JSON Schema 2020-12, the dialect of OpenAPI 3.1. The schema comes from
tests/fixtures/openapi/openai.json, extracted from OpenAI's openai-openapi.yaml by
tests/fixtures/openapi/extract.py (CI has no copy of the 3 MB yaml). Rerun the extract to
follow a newer spec.

What the extract leaves out, and so what this cannot check:
- every component the /responses, /embeddings and /completions operations and ErrorResponse do not
  reach (chat, assistants, realtime, ... and the beta /responses?beta=true variants);
- descriptions, titles and examples inside schemas;
- a schema for DELETE /responses/{id}: the spec has none (its 200 has no body schema);
  the spec's example body is kept under "examples" in the JSON instead.

What JSON Schema does not know about OpenAPI: `discriminator` is ignored (a oneOf still
needs exactly one branch to match, which the spec's `type` enums make so), `format`
(e.g. "unixtime") is not asserted, and `x-*` keys are annotations.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema
from jsonschema.exceptions import ValidationError, best_match

SPEC = Path(__file__).parent / "fixtures" / "openapi" / "openai.json"
BASE = "urn:openai-openapi"


@functools.cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return data


@functools.cache
def _registry() -> referencing.Registry[Any]:
    resource = referencing.jsonschema.DRAFT202012.create_resource(spec())
    return referencing.Registry().with_resource(BASE, resource)


@functools.cache
def validator(component: str) -> jsonschema.Draft202012Validator:
    if component not in spec()["components"]["schemas"]:
        raise KeyError(f"{component} is not in {SPEC.name}; add a root to extract.py")
    schema = {"$ref": f"{BASE}#/components/schemas/{component}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def _misfit(error: ValidationError) -> bool:
    """True if the error says its oneOf/anyOf branch is not this kind of value at all."""
    path = list(error.relative_path)
    if path == ["type"] and error.validator in ("enum", "const"):
        return True  # the discriminator: another branch's `type`
    return not path and error.validator == "type"  # an object branch for a null, ...


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors that say why: inside a oneOf, those of the branch whose kind fits."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [subs for subs in branches.values() if not any(map(_misfit, subs))]
    if len(fitting) != 1:
        return [error, *_leaves(best_match(error.context))]
    return [leaf for sub in fitting[0] for leaf in _leaves(sub)]


def _described(error: ValidationError) -> str:
    line = f"{error.json_path}: {error.message}"
    return line if len(line) <= 300 else line[:297] + "..."


def validate(component: str, value: Any) -> None:
    """Raise AssertionError naming each failing path and why."""
    errors = list(validator(component).iter_errors(value))
    if not errors:
        return
    reasons = [_described(leaf) for error in errors for leaf in _leaves(error)]
    text = "\n  ".join(reasons[:12])
    raise AssertionError(f"not a valid {component}:\n  {text}")
