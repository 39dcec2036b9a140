"""OpenAI's Responses API: create, retrieve, delete, input items, input token counts.

For the OpenAI SDK's `client.responses` and the Agents SDK, with a virtual key. A
create runs the same pipeline as chat completions (keys, limits, budgets, router,
spend), priced, sized and routed by its translation to chat; each deployment then
gets it natively (OpenAI) or translated (gateway/responses/call.py).

State is the gateway's own (gateway/responses/store.py): `previous_response_id` is
looked up in the caller's scope (its team, or its key) before anything is admitted,
so an unknown or foreign id is a 404 that costs nothing, on whichever instance.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway import numerals
from gateway.errors import InvalidRequestError, ModelNotFoundError, NotFoundError
from gateway.http import access, caching, routing
from gateway.http.auth import authenticate
from gateway.http.body import RESPONSES_SCHEMAS, parse_json, read_body, reject_routing_overrides
from gateway.http.dependencies import gateway_config
from gateway.http.ids import request_id
from gateway.http.pipeline import Prepared, serve
from gateway.schemas import bounds

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.responses.store import StoredResponse
    from gateway.schemas.responses import ResponsesRequest

MAX_LIST = 100
DEFAULT_LIST = 20


async def create(request: Request) -> Response:
    from gateway.responses.cache_shape import ResponsesShape
    from gateway.responses.call import STORED_HEADER, ResponsesCall, keep
    from gateway.responses.items import input_items
    from gateway.responses.store import scope_of
    from gateway.responses.to_chat import to_chat

    rid = request_id(request)
    started = time.time()
    caller = await authenticate(request)
    raw = await read_body(request)
    data = parse_json(raw)
    reject_routing_overrides(data, list(request.query_params.keys()), RESPONSES_SCHEMAS)
    bounds.check(data)
    route = routing.options(data)
    cache_controls = caching.controls(request, data, caller)
    parsed = validate(data)
    scope = scope_of(caller)
    history = await _history(scope, parsed)
    items = input_items(parsed, rid)
    route.call = ResponsesCall(parsed, data, history, items, scope)
    view = to_chat(parsed, [*history, *items])
    shape = ResponsesShape(data, history)
    prepared = Prepared(
        rid, started, caller, len(raw), route, view, (), cache_controls, shape, "responses"
    )
    response = await serve(request, prepared)
    served = shape.served  # a cache hit, kept like any answer
    if served is not None and parsed.store and not await keep(scope, served, items, history):
        response.headers[STORED_HEADER] = "false"
    return response


def validate(data: dict[str, Any]) -> ResponsesRequest:
    from gateway.responses.support import refuse_everywhere
    from gateway.schemas.responses import validate_responses

    parsed = validate_responses(data)
    refuse_everywhere(parsed)
    return parsed


async def _history(scope: str, parsed: ResponsesRequest) -> list[dict[str, Any]]:
    previous = parsed.previous_response_id
    if previous is None:
        return []
    record = await _stored(scope, previous, param="previous_response_id")
    return record.conversation()


async def _stored(scope: str, response_id: str, *, param: str | None = None) -> StoredResponse:
    from gateway.responses.store import response_store

    record = await response_store().get(scope, response_id)
    if record is None:
        raise NotFoundError(f"Response with id '{response_id}' not found.", param=param)
    return record


async def retrieve(request: Request) -> Response:
    from gateway.responses.store import scope_of

    rid = request_id(request)
    caller = await authenticate(request)
    if request.query_params.get("stream", "false").lower() not in ("false", "0"):
        raise InvalidRequestError(
            "Streaming a stored response back is not supported; retrieve it without stream.",
            param="stream",
        )
    record = await _stored(scope_of(caller), request.path_params["response_id"])
    return JSONResponse(record.response, headers={"x-request-id": rid})


async def delete(request: Request) -> Response:
    from gateway.responses.store import response_store, scope_of

    rid = request_id(request)
    caller = await authenticate(request)
    response_id = request.path_params["response_id"]
    if not await response_store().delete(scope_of(caller), response_id):
        raise NotFoundError(f"Response with id '{response_id}' not found.")
    body = {"id": response_id, "object": "response.deleted", "deleted": True}
    return JSONResponse(body, headers={"x-request-id": rid})


async def list_input_items(request: Request) -> Response:
    from gateway.responses.store import scope_of

    rid = request_id(request)
    caller = await authenticate(request)
    limit, order, after = _page(request)
    record = await _stored(scope_of(caller), request.path_params["response_id"])
    items = list(record.input_items)
    if order == "desc":
        items.reverse()
    if after is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise InvalidRequestError(f"No input item with id '{after}'.", param="after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    body = {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }
    return JSONResponse(body, headers={"x-request-id": rid})


def _page(request: Request) -> tuple[int, str, str | None]:
    query = request.query_params
    limit = numerals.whole(query.get("limit", str(DEFAULT_LIST)))
    if limit is None or not 1 <= limit <= MAX_LIST:
        raise InvalidRequestError(f"limit must be an integer from 1 to {MAX_LIST}.", param="limit")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequestError("order must be 'asc' or 'desc'.", param="order")
    return limit, order, query.get("after")


async def input_tokens(request: Request) -> Response:
    from gateway.responses.count import count
    from gateway.responses.items import input_items
    from gateway.responses.store import scope_of
    from gateway.responses.to_chat import to_chat

    rid = request_id(request)
    caller = await authenticate(request)
    data = parse_json(await read_body(request))
    reject_routing_overrides(data, list(request.query_params.keys()), RESPONSES_SCHEMAS)
    bounds.check(data)
    parsed = validate(data)
    history = await _history(scope_of(caller), parsed)
    config = await gateway_config()
    model = access.model_for(caller, config, parsed.model)
    deployments = config.groups.get(model)
    if not deployments:
        raise ModelNotFoundError(
            f"The model '{parsed.model}' does not exist or you do not have access to it.",
            param="model",
        )
    view = to_chat(parsed, [*history, *input_items(parsed, rid)])
    tokens, estimated = await count(data, history, view, deployments)
    headers = {"x-request-id": rid}
    if estimated:
        headers["x-gateway-token-count"] = "estimated"
    return JSONResponse(
        {"object": "response.input_tokens", "input_tokens": tokens}, headers=headers
    )


routes = [
    Route("/v1/responses", create, methods=["POST"]),
    Route("/v1/responses/input_tokens", input_tokens, methods=["POST"]),
    Route("/v1/responses/{response_id}", retrieve, methods=["GET"]),
    Route("/v1/responses/{response_id}", delete, methods=["DELETE"]),
    Route("/v1/responses/{response_id}/input_items", list_input_items, methods=["GET"]),
]
