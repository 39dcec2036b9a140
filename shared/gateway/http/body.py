"""Reading a request body: size limit, JSON, routing-override guard, schema validation."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import ClientDisconnect

from gateway import numerals
from gateway.config import MAX_BODY_BYTES, settings
from gateway.errors import (
    ClientClosedError,
    InvalidRequestError,
    RequestTimeoutError,
    RequestTooLargeError,
    UnsupportedParameterError,
)
from gateway.schemas.nesting import MAX_DEPTH
from gateway.schemas.openai import ChatCompletionRequest
from gateway.schemas.validation import validated

if TYPE_CHECKING:
    from starlette.requests import Request

# Fields that would choose where provider credentials go, or carry them. They
# are the operator's (config) and never a caller's, at any depth of the body.
BANNED_KEYS = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "api_type",
        "organization",
        "azure_endpoint",
        "azure_ad_token",
        "azure_deployment",
        "extra_headers",
        "headers",
        "extra_body",
        "extra_query",
        "custom_llm_provider",
        "proxy",
        "proxies",
        "endpoint",
        "user_config",
        "litellm_params",
        "mock_response",
        "input_cost_per_token",
        "output_cost_per_token",
        "secret_fields",
        "client_secret",
    }
)
BANNED_PREFIXES = ("aws_", "vertex_", "azure_", "bedrock_", "litellm_")

# JSON Schema documents describe the caller's own tools and outputs; their
# property names (a tool may well take a "base_url") choose nothing of ours.
SchemaPaths = tuple[tuple[str, ...], ...]
CHAT_SCHEMAS: SchemaPaths = (
    ("tools", "*", "function", "parameters"),
    ("response_format", "json_schema", "schema"),
)
MESSAGES_SCHEMAS: SchemaPaths = (  # Anthropic's tools and structured outputs
    ("tools", "*", "input_schema"),
    ("output_format", "schema"),
    ("output_config", "format", "schema"),
)
RESPONSES_SCHEMAS: SchemaPaths = (  # the Responses API's function tools and text format
    ("tools", "*", "parameters"),
    ("text", "format", "schema"),
)


async def read_body(request: Request) -> bytes:
    """The whole body, within MAX_BODY_BYTES and GATEWAY_BODY_TIMEOUT_S. A caller that
    stalls is answered 408 and its connection closed (what it sends later is no request);
    one that leaves mid-body is recorded as 499."""
    declared = numerals.whole(request.headers.get("content-length"))
    if declared is not None and declared > MAX_BODY_BYTES:
        raise RequestTooLargeError(f"The request body is over {MAX_BODY_BYTES} bytes.")
    timeout_s = settings().body_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            return await _chunks(request)
    except TimeoutError:
        raise RequestTimeoutError(
            f"The request body did not arrive within {timeout_s:g} seconds.",
            headers={"connection": "close"},
        ) from None
    except ClientDisconnect:
        raise ClientClosedError("The client left before sending the request body.") from None


async def _chunks(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestTooLargeError(f"The request body is over {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise InvalidRequestError(
            "The request body is empty; send a JSON object.", code="invalid_json"
        )
    try:
        # A leading UTF-8 BOM is tolerated, as the stdlib does; nesting beyond 1024 levels
        # is a decode error, not a crash.
        data = orjson.loads(raw.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError:
        raise InvalidRequestError(
            "The request body is not valid JSON.", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_json")
    return data


Path = tuple[str | int, ...]


def _is_schema(path: Path, patterns: SchemaPaths) -> bool:
    for pattern in patterns:
        if len(path) == len(pattern) and all(
            (p == "*" and isinstance(s, int)) or p == s for p, s in zip(pattern, path, strict=True)
        ):
            return True
    return False


def _dotted(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).removeprefix(".")


def _banned(key: str) -> bool:
    name = key.strip().lower().replace("-", "_")
    return name in BANNED_KEYS or name.startswith(BANNED_PREFIXES)


def reject_routing_overrides(
    data: dict[str, Any],
    query_keys: list[str] | None = None,
    schemas: SchemaPaths = CHAT_SCHEMAS,
) -> None:
    """400 for any credential- or routing-bearing key, anywhere but inside the request's
    JSON Schemas, and for nesting deeper than MAX_DEPTH (which serializers downstream
    cannot take). Iterative: no recursion."""
    for key in query_keys or ():
        if _banned(key):
            raise UnsupportedParameterError(f"'{key}' cannot be set by a request.", param=key)
    stack: list[tuple[Path, Any, bool]] = [((), data, False)]
    while stack:
        path, value, in_schema = stack.pop()
        if len(path) > MAX_DEPTH:
            raise InvalidRequestError(
                f"The request nests deeper than {MAX_DEPTH} levels.", param=_dotted(path[:3])
            )
        if isinstance(value, dict):
            in_schema = in_schema or _is_schema(path, schemas)
            for key, child in value.items():
                if not in_schema and _banned(str(key)):
                    raise UnsupportedParameterError(
                        f"'{key}' cannot be set by a request.", param=_dotted((*path, str(key)))
                    )
                stack.append(((*path, str(key)), child, in_schema))
        elif isinstance(value, list):
            stack.extend(((*path, index), item, in_schema) for index, item in enumerate(value))


# The discriminator tags of the chat request's unions (message roles, part types).
_TAGS = frozenset(
    {"system", "developer", "user", "assistant", "tool", "text", "image_url", "refusal", "other"}
)


def validate_chat(data: dict[str, Any]) -> ChatCompletionRequest:
    return validated(ChatCompletionRequest, data, _TAGS)
