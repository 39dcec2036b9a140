"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API.

For Claude Code (ANTHROPIC_BASE_URL) and the anthropic SDK, with a virtual key
in `x-api-key` or `Authorization: Bearer`. The request runs the same pipeline as
chat completions (keys, limits, budgets, router, spend), priced, sized and routed
by its translation to chat; each deployment then gets it natively (Claude) or
translated (gateway/messages/call.py). `anthropic-version` is accepted (Anthropic
has one version); `anthropic-beta` goes to Claude deployments, and other
deployments refuse the betas they cannot honour. Errors are in Anthropic's shape
(gateway/messages/errors.py, applied by the app for these paths).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.errors import InvalidRequestError, ModelNotFoundError
from gateway.http import access, caching, routing
from gateway.http.auth import authenticate
from gateway.http.body import MESSAGES_SCHEMAS, parse_json, read_body, reject_routing_overrides
from gateway.http.dependencies import gateway_config
from gateway.http.ids import request_id
from gateway.http.pipeline import Prepared, serve
from gateway.schemas import bounds

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

PATHS = ("/v1/messages", "/v1/messages/count_tokens")
MAX_BETAS = 32


async def messages(request: Request) -> Response:
    from gateway.messages.cache_shape import MessagesShape
    from gateway.messages.call import MessagesCall
    from gateway.messages.to_chat import to_chat
    from gateway.schemas.anthropic import validate_messages

    rid = request_id(request)
    started = time.time()
    caller = await authenticate(request)
    raw = await read_body(request)
    data = parse_json(raw)
    reject_routing_overrides(data, list(request.query_params.keys()), MESSAGES_SCHEMAS)
    bounds.check(data)
    route = routing.options(data)
    cache_controls = caching.controls(request, data, caller)
    tags = bounds.tags_of(data)
    parsed = validate_messages(data)
    body, wanted = native_body(data), betas(request)
    route.call = MessagesCall(parsed, body, wanted)
    view = to_chat(parsed)
    shape = MessagesShape(body, wanted)
    prepared = Prepared(
        rid, started, caller, len(raw), route, view, tags, cache_controls, shape, "messages"
    )
    response = await serve(request, prepared)
    response.headers["request-id"] = rid  # where the anthropic SDK reads a request id
    return response


async def count_tokens(request: Request) -> Response:
    from gateway.messages.count import count
    from gateway.schemas.anthropic import validate_messages

    rid = request_id(request)
    caller = await authenticate(request)
    data = parse_json(await read_body(request))
    reject_routing_overrides(data, list(request.query_params.keys()), MESSAGES_SCHEMAS)
    bounds.check(data)
    bounds.tags_of(data)
    # The count takes a Messages body without max_tokens; any value validates the rest.
    parsed = validate_messages({**data, "max_tokens": data.get("max_tokens", 1)})
    config = await gateway_config()
    model = access.model_for(caller, config, parsed.model)
    deployments = config.groups.get(model)
    if not deployments:
        raise ModelNotFoundError(
            f"The model '{parsed.model}' does not exist or you do not have access to it.",
            param="model",
        )
    tokens, estimated = await count(native_body(data), betas(request), deployments)
    headers = {"x-request-id": rid, "request-id": rid}
    if estimated:
        headers["x-gateway-token-count"] = "estimated"
    return JSONResponse({"input_tokens": tokens}, headers=headers)


def native_body(data: dict[str, Any]) -> dict[str, Any]:
    """The body a Claude deployment gets: the client's, less the gateway's own fields
    (`metadata.tags`)."""
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or "tags" not in metadata:
        return data
    rest = {key: value for key, value in metadata.items() if key != "tags"}
    body = {key: value for key, value in data.items() if key != "metadata"}
    if rest:
        body["metadata"] = rest
    return body


def betas(request: Request) -> tuple[str, ...]:
    """`anthropic-beta`, comma-separated, possibly repeated (as the SDK may send it)."""
    names = [
        name.strip()
        for value in request.headers.getlist("anthropic-beta")
        for name in value.split(",")
        if name.strip()
    ]
    if len(names) > MAX_BETAS or not all(
        name.isascii() and name.isprintable() and len(name) <= 100 for name in names
    ):
        raise InvalidRequestError("anthropic-beta is malformed.", param="anthropic-beta")
    return tuple(dict.fromkeys(names))


def is_messages_path(path: str) -> bool:
    return path in PATHS or path.rstrip("/") in PATHS


routes = [
    Route("/v1/messages", messages, methods=["POST"]),
    Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
]
