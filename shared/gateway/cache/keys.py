"""The response cache's request fingerprint: which requests may share a cached answer.

Two requests share an entry only when nothing that can change the output differs: the
model group, the namespace, and every request field except the few that only frame the
call (`EXCLUDED`). The fingerprint is SHA-256 over canonical JSON (sorted keys, no
whitespace, an integral float written as an int), so the client's key order and spacing
never matter. A sampling default is written in only where every provider serving the
group documents the same value (its dialect's SAMPLING_DEFAULTS): an omitted
temperature and temperature=1 share an entry for an OpenAI-only group, never for one
with a Bedrock deployment.
Equivalences we cannot prove stay distinct: a needless miss costs a call, a false hit
serves the wrong answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from gateway.providers.catalog import CATALOG
from gateway.providers.dialects import dialect

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.providers.spec import Target
    from gateway.schemas.openai import ChatCompletionRequest

# Bumped whenever the canonical form changes, so old entries are never read by new rules.
VERSION = 1

# Fields that cannot change the output. `model` is the client's name for the group, which
# `model_group` replaces (after key aliases); `metadata` is LiteLLM's request metadata and
# tags; `cache` is LiteLLM's per-request cache control (no-cache, ttl, ...).
EXCLUDED = frozenset({"model", "stream", "stream_options", "user", "metadata", "cache"})

# The output limit's two spellings, in the order an OpenAI-compatible upstream reads them.
_LIMITS = ("max_tokens", "max_completion_tokens")

# Beyond 2**53 floats are all integral and ints no longer round-trip through a float.
_EXACT = 2**53


@dataclass(frozen=True, slots=True)
class CacheKey:
    id: str  # hex SHA-256 of the canonical fingerprint
    namespace: str  # as given: "team:<id>", "key:<key_id>", "global" or a client's name

    @property
    def object_key(self) -> str:
        """The S3 object key. The namespace is hashed: no team or key id appears in S3."""
        return f"v{VERSION}/{self.namespace_hash}/{self.id}"

    @property
    def namespace_hash(self) -> str:
        return hashlib.sha256(self.namespace.encode()).hexdigest()[:32]


def fingerprint(
    request: ChatCompletionRequest,
    *,
    model_group: str,
    providers: frozenset[str],
    namespace: str,
) -> CacheKey:
    """The cache key of `request` served by `model_group` within `namespace`.

    `providers` names the defaults source of each deployment in the group
    (`defaults_source(deployment.target)`); a name without a row documents no defaults.
    `namespace` scopes the entry and is hashed into the id; it names a team, key or
    client scope and must never be a credential.
    """
    fields = request.model_dump(mode="json", exclude_none=True, by_alias=True)
    for name in EXCLUDED:
        fields.pop(name, None)
    limits = [fields.pop(name) for name in _LIMITS if name in fields]
    if isinstance(fields.get("stop"), str):
        fields["stop"] = [fields["stop"]]
    for name, value in group_defaults(providers).items():
        fields.setdefault(name, value)
    document = {
        "version": VERSION,
        "namespace": namespace,
        "model_group": model_group,
        # Derived values live beside the request, never inside it, so no client field can
        # collide with them. Differing spellings both reach an OpenAI upstream: kept apart.
        "output_limit": limits[0] if len(set(limits)) == 1 else limits,
        "request": fields,
    }
    return _key(document, namespace)


def body_fingerprint(
    body: Mapping[str, Any],
    *,
    api: str,
    model_group: str,
    namespace: str,
    betas: Sequence[str] = (),
) -> CacheKey:
    """The cache key of a request another API shapes (the Messages API, the Responses
    API): its whole body (less the fields that only frame the call) and its betas. Its
    `api` field keeps it apart from every chat entry and each other's (the answers differ
    in shape). No sampling defaults are assumed."""
    fields = {name: value for name, value in body.items() if name not in EXCLUDED}
    document = {
        "version": VERSION,
        "api": api,
        "namespace": namespace,
        "model_group": model_group,
        "betas": sorted(set(betas)),
        "request": fields,
    }
    return _key(document, namespace)


def _key(document: dict[str, Any], namespace: str) -> CacheKey:
    canonical = orjson.dumps(_numbers(document), option=orjson.OPT_SORT_KEYS)
    return CacheKey(id=hashlib.sha256(canonical).hexdigest(), namespace=namespace)


def sampling_defaults(source: str) -> Mapping[str, Any]:
    """The defaults a source documents: its dialect's SAMPLING_DEFAULTS when the source is
    that dialect's own vendor (the catalog row named like its dialect: OpenAI's API at
    OpenAI), none otherwise (a vendor or server that only speaks the same API)."""
    row = CATALOG.get(source)
    if row is None or row.dialect != source:
        return {}
    return dialect(source).SAMPLING_DEFAULTS


def group_defaults(providers: frozenset[str]) -> dict[str, Any]:
    """The defaults every one of `providers` documents with the same value."""
    tables = [sampling_defaults(name) for name in sorted(providers)]
    if not tables:
        return {}
    first, *rest = tables
    return {
        name: value
        for name, value in first.items()
        if all(name in table and table[name] == value for table in rest)
    }


def defaults_source(target: Target) -> str:
    """A deployment's defaults source: its catalog provider at that provider's own host.

    LiteLLM configs often point `openai/...` at a vLLM or other compatible server through
    api_base; OpenAI's defaults do not hold there, so such a deployment documents none.
    """
    row = CATALOG.get(target.provider)
    if row is None or urlsplit(target.api_base).hostname != urlsplit(row.api_base).hostname:
        return f"{target.provider}:custom-endpoint"
    return target.provider


def _numbers(value: Any) -> Any:
    """Integral floats as ints, at every depth: 1 and 1.0 are one number in JSON."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _EXACT else value
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value
