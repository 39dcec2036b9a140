"""GET /v1/models (and /models): the model names this gateway serves to the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.http.access import allows
from gateway.http.auth import authenticate
from gateway.http.dependencies import gateway_config

if TYPE_CHECKING:
    from starlette.requests import Request


async def list_models(request: Request) -> JSONResponse:
    caller = await authenticate(request)
    config = await gateway_config()
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": group[0].target.provider}
        for name, group in sorted(config.groups.items())
        if allows(caller, config, name, name)
    ]
    return JSONResponse({"object": "list", "data": data})


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/models", list_models, methods=["GET"]),
]
