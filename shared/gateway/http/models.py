"""GET /v1/models (and /models): the model names this gateway serves to the caller.

Each is OpenAI's Model object plus, as LiteLLM's model data writes them, its `mode`
and the `supported_endpoints` that mode serves (gateway/endpoints.py), and its
`pricing`: the per-token prices in USD under LiteLLM's model_info names and their
`source` ("model_info", "genai-prices" with the price `provider` it matched, or null
for an unpriced model, which runs free and is refused to budgeted keys unless the
config allows it). A group's entry describes its first deployment, as `owned_by` does.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.endpoints import PATHS, endpoints
from gateway.http.access import allows
from gateway.http.auth import authenticate
from gateway.http.dependencies import gateway_config
from gateway.spend.cost import pricing

if TYPE_CHECKING:
    from starlette.requests import Request


async def list_models(request: Request) -> JSONResponse:
    caller = await authenticate(request)
    config = await gateway_config()
    data = [
        {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": group[0].target.provider,
            "mode": group[0].mode,
            "supported_endpoints": [PATHS[endpoint] for endpoint in endpoints(group[0])],
            "pricing": asdict(pricing(group[0])),
        }
        for name, group in sorted(config.groups.items())
        if allows(caller, config, name, name)
    ]
    return JSONResponse({"object": "list", "data": data})


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/models", list_models, methods=["GET"]),
]
