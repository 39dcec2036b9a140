"""GET /health (readiness, no auth) and the SnapStart after-restore hook."""

from __future__ import annotations

import random

from fastapi import APIRouter
from starlette.responses import JSONResponse

from gateway import aws
from gateway.providers import transport
from gateway.store import dynamo

router = APIRouter()


@router.get("/health")
async def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.post("/_internal/snapstart/after-restore", include_in_schema=False)
async def after_restore() -> JSONResponse:
    """Restored sandboxes share one snapshot: new sockets, credentials and random state.

    Lambda Web Adapter calls this (AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH) and answers
    403 to any outside request for the path.
    """
    random.seed()
    aws.reset()
    await transport.close()
    await dynamo.close()
    return JSONResponse({"status": "restored"})
