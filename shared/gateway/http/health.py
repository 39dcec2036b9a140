"""GET /health (readiness, no auth) and the SnapStart after-restore hook."""

from __future__ import annotations

import ipaddress
import random
from typing import TYPE_CHECKING

from fastapi import APIRouter
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway import aws
from gateway.config import settings
from gateway.errors import NotFoundError
from gateway.providers import transport
from gateway.store import dynamo

if TYPE_CHECKING:
    from starlette.requests import Request

router = APIRouter()

AFTER_RESTORE_PATH = "/_internal/snapstart/after-restore"  # template.yaml sets it for LWA
# The adapter adds both to every invocation it forwards (whatever the caller sent), and
# neither to its own hook call.
_FORWARDED = ("x-amzn-request-context", "x-amzn-lambda-context")


@router.get("/health")
async def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


def from_adapter(request: Request) -> bool:
    """Whether the request is Lambda Web Adapter's own after-restore call: in a Lambda
    sandbox (AWS_LAMBDA_FUNCTION_NAME), on the server's socket (not Mangum, which puts
    the event in the scope), from loopback (run.sh binds 127.0.0.1), without the context
    headers of an invocation the adapter forwards. Anything else, `make dev` included,
    is answered as an unknown route."""
    if settings().lambda_function is None or "aws.event" in request.scope:
        return False
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
    return loopback and not any(name in request.headers for name in _FORWARDED)


async def after_restore(request: Request) -> JSONResponse:
    """Restored sandboxes share one snapshot: new sockets, credentials and random state.

    Lambda Web Adapter calls this (AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH) and itself
    answers 403 to any outside request for the path; `from_adapter` is the app's own
    check, as the hook cuts every live stream.
    """
    if request.method != "POST" or not from_adapter(request):
        raise NotFoundError(f"Unknown route: {request.url.path}")
    random.seed()
    aws.reset()
    await transport.close()
    await dynamo.close()
    return JSONResponse({"status": "restored"})


# Every method: a 405 would tell an outside caller that the route exists.
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
hooks = [Route(AFTER_RESTORE_PATH, after_restore, methods=_METHODS, include_in_schema=False)]
