"""POST /v1/chat/completions (and /chat/completions)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from gateway.completions import complete
from gateway.http.auth import require_master_key
from gateway.http.body import parse_json, read_body, reject_routing_overrides, validate_chat
from gateway.http.dependencies import gateway_config
from gateway.http.ids import request_id

router = APIRouter(dependencies=[Depends(require_master_key)])

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@router.post("/v1/chat/completions", include_in_schema=True)
@router.post("/chat/completions", include_in_schema=False)
async def chat_completions(request: Request) -> Response:
    rid = request_id(request)
    data = parse_json(await read_body(request))
    reject_routing_overrides(data, list(request.query_params.keys()))
    chat = validate_chat(data)
    config = await gateway_config()
    outcome = await complete(chat, config, rid)
    if outcome.stream is not None:
        return StreamingResponse(
            outcome.stream,
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **outcome.headers},
        )
    return Response(outcome.body, media_type="application/json", headers=outcome.headers)
