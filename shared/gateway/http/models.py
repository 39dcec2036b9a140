"""GET /v1/models (and /models): the model names this gateway serves."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse

from gateway.http.auth import require_master_key
from gateway.http.dependencies import gateway_config

router = APIRouter(dependencies=[Depends(require_master_key)])


@router.get("/v1/models")
@router.get("/models", include_in_schema=False)
async def list_models() -> JSONResponse:
    config = await gateway_config()
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": group[0].target.provider}
        for name, group in sorted(config.groups.items())
    ]
    return JSONResponse({"object": "list", "data": data})
