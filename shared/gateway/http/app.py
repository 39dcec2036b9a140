"""The FastAPI app: a pure ASGI app served by uvicorn (under Lambda Web Adapter in AWS,
`make dev` locally) or, buffered, by Mangum. Importing this module creates nothing;
`create_app()` builds the app, and nothing touches the network until a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gateway import errors
from gateway.config import settings
from gateway.http import (
    chat,
    embeddings,
    health,
    messages,
    models,
    rerank,
    responses,
    text_completions,
)
from gateway.http.ids import request_id
from gateway.http.observe import Observed
from gateway.providers import sse, transport
from gateway.store import dynamo

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

logger = logging.getLogger("gateway")


def error_response(request: Request, error: errors.GatewayError) -> Response:
    """OpenAI's error envelope, or Anthropic's on the Messages API's paths."""
    rid = request_id(request)
    request.state.error = error  # for the request's telemetry
    headers = {**error.headers, "x-request-id": rid}
    # Nobody reads a 499 (the client left): its record keeps the status, on every path.
    closed = isinstance(error, errors.ClientClosedError)
    if messages.is_messages_path(request.url.path) and not closed:
        from gateway.messages import errors as anthropic

        headers["request-id"] = rid
        return Response(
            sse.dumps(anthropic.body(error, rid)),
            status_code=anthropic.status_of(error),
            headers=headers,
            media_type="application/json",
        )
    return Response(
        error.body_bytes(), status_code=error.status, headers=headers, media_type="application/json"
    )


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.GatewayError)
    if exc.status >= 500:
        logger.warning("request failed: %s %s", exc.status, exc.code)
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error: errors.GatewayError = errors.MethodNotAllowedError(
            "Method not allowed for this route."
        )
    elif exc.status_code == 404:
        error = errors.NotFoundError(f"Unknown route: {request.url.path}")
    else:
        error = errors.InvalidRequestError("The request could not be processed.")
        error.status = exc.status_code
    return error_response(request, error)


async def _unexpected(request: Request, _exc: Exception) -> Response:
    logger.exception("unhandled error", extra={"request_id": request_id(request)})
    return error_response(request, errors.InternalError("The gateway failed; retry later."))


def configure_logging() -> None:
    """JSON logs (Powertools' format), with anything that looks like a key redacted."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from gateway.redaction import redact

    class RedactingFormatter(LambdaPowertoolsFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return redact(super().format(record))

    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter())  # service: POWERTOOLS_SERVICE_NAME
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings().log_level)
    # One line per upstream call is noise and CPU on the hot path.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    configure_logging()
    if app.state.prices:  # price data, loaded before readiness (inside SnapStart's snapshot)
        from gateway.spend import cost

        cost.warm()
    yield
    from gateway.billing import outbox

    # SIGTERM: deliver the spend events still held, and the metrics not yet exported.
    flush_s = settings().spend_flush_s
    flushes = [outbox.settle(flush_s)]
    if otel := sys.modules.get("gateway.telemetry.otel"):  # imported only when export is on
        flushes.append(otel.settle(flush_s))
    await asyncio.gather(*flushes)
    await transport.close()
    await dynamo.close()


def _base_app(title: str, *, prices: bool) -> FastAPI:
    # No redirect_slashes: its 307 answers an unauthenticated caller with a Location built
    # from the caller's own Host header; `/v1/models/` is an unknown route, a 404.
    app = FastAPI(
        title=title,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.prices = prices
    app.include_router(health.router)
    app.add_exception_handler(errors.GatewayError, _gateway_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    return app


def create_app() -> FastAPI:
    """The inference API (functions/api): chat completions, messages, responses and models."""
    app = _base_app("LLM gateway", prices=True)
    app.router.routes.extend(
        [
            *health.hooks,
            *chat.routes,
            *text_completions.routes,
            *embeddings.routes,
            *rerank.routes,
            *messages.routes,
            *responses.routes,
            *models.routes,
        ]
    )
    app.add_middleware(Observed)  # each request's metrics and access line, after its last byte
    return app


def create_admin_app() -> FastAPI:
    """The admin API (functions/admin): keys, teams and users; master key only."""
    from gateway.http import admin

    app = _base_app("LLM gateway admin", prices=False)
    app.router.routes.extend(admin.routes)
    return app


def create_local_app() -> FastAPI:
    """Both APIs on one base URL, as `make dev` serves them."""
    from gateway.http import admin

    app = create_app()
    app.router.routes.extend(admin.routes)
    return app
