"""Google Gemini ``generateContent`` and ``streamGenerateContent`` on its two hosts.

- Gemini API (AI Studio), ``/v1beta`` or ``/v1``: ``/models/{model}:generateContent`` and
  ``:streamGenerateContent``; the key in header ``x-goog-api-key`` or query ``key``.
- Vertex AI, ``/v1`` or ``/v1beta1``:
  ``/projects/{project}/locations/{location}/publishers/google/models/{model}:...``;
  ``Authorization: Bearer`` with a token minted by the simulator's ``/token``
  (``google_oauth``).

``streamGenerateContent?alt=sse`` is ``text/event-stream`` with events
``data: <GenerateContentResponse>\\r\\n\\r\\n`` (CRLF, as Google sends them); without
``alt=sse`` it is one JSON array of responses, written as they come. Any model named
``gemini-*`` or ``gemma-*`` exists; any other is a 404. Request bodies are read in
``gemini_request``, answers built in ``gemini_response``, errors in ``gemini_errors``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from gateway.local.simulator.engine import ErrorContext, Ev, Vendor, handle, json_response
from gateway.local.simulator.engine import sim_state as state_of
from gateway.local.simulator.gemini_errors import API_KEY_ON_VERTEX, INTERNAL, error_body, rpc_error
from gateway.local.simulator.gemini_request import parse_body
from gateway.local.simulator.gemini_response import Host, answer, chunks, response
from gateway.local.simulator.scenario import RequestError, dumps

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.gemini_request import GeminiParsed
    from gateway.local.simulator.scenario import Plan

AI_STUDIO_VERSIONS = ("v1beta", "v1")
VERTEX_VERSIONS = ("v1", "v1beta1")
MODEL_FAMILIES = ("gemini-", "gemma-")
_SSE = "text/event-stream"
_ARRAY = "application/json; charset=UTF-8"
_RETRY_STATUSES = (429, 503)


class GeminiVendor(Vendor):
    """One host (``vertex``), API version, and answer shape: JSON, SSE or a JSON array."""

    name = "gemini"
    content_policy_is_stop = True  # a filtered answer is finishReason SAFETY, not an error

    def __init__(self, version: str, *, vertex: bool, stream: bool, sse: bool = True) -> None:
        self.version, self.vertex, self.stream, self.sse = version, vertex, stream, sse
        self.name = "vertex_ai" if vertex else "gemini"
        self.stream_media_type = _SSE if sse else _ARRAY

    # ----------------------------------------------------------------- auth

    def credential(self, request: Request) -> str:
        if self.vertex:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
        return request.headers.get("x-goog-api-key") or request.query_params.get("key", "")

    def check_auth(self, request: Request) -> Response | None:
        credential = self.credential(request)
        if not self.vertex:
            return None if credential else self.error("denied", ErrorContext())
        if not credential:
            has_key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
            message = API_KEY_ON_VERTEX if has_key else None
            return self.error("denied", ErrorContext(message=message))
        if state_of(request).google_token_valid(credential, time.time()):
            return None
        return self.error("401", ErrorContext(credential=credential))

    # ----------------------------------------------------------------- request

    def parse(self, body: dict[str, Any], request: Request) -> GeminiParsed:
        model = str(request.path_params["model"])
        if not model.startswith(MODEL_FAMILIES):
            raise RequestError(self._not_found(model, request), status=404)
        content_type = (
            f"type.googleapis.com/google.cloud.aiplatform.{self.version}.Content"
            if self.vertex
            else f"type.googleapis.com/google.ai.generativelanguage.{self.version}.Content"
        )
        return parse_body(
            body, model, stream=self.stream, vertex=self.vertex, content_type=content_type
        )

    def _not_found(self, model: str, request: Request) -> str:
        if self.vertex:
            params = request.path_params
            name = (
                f"projects/{params['project']}/locations/{params['location']}"
                f"/publishers/google/models/{model}"
            )
            return (
                f"Publisher Model `{name}` was not found or your project does not have access "
                "to it. Please ensure you are using a valid model version. For more "
                "information, see: "
                "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
            )
        method = "StreamGenerateContent" if self.stream else "generateContent"
        return (
            f"models/{model} is not found for API version {self.version}, or is not supported "
            f"for {method}. Call ListModels to see the list of available models and their "
            "supported methods."
        )

    # ----------------------------------------------------------------- errors

    def headers(self, request_id: str) -> dict[str, str]:
        del request_id  # Google sends no request id header
        return {}

    def retry_headers(self, status: int, ctx: ErrorContext) -> dict[str, str]:
        """Google puts the wait in the body (RetryInfo); a header only if the spec asks."""
        if status in _RETRY_STATUSES and ctx.retry_after is not None:
            return {"retry-after": str(ctx.retry_after)}
        return {}

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        status, body = error_body(kind, ctx, vertex=self.vertex, version=self.version)
        return json_response(body, status, self.retry_headers(status, ctx))

    # ----------------------------------------------------------------- answers

    def _host(self) -> Host:
        if not self.vertex:
            return Host(vertex=False)
        created = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return Host(vertex=True, created=created)

    def success(self, plan: Plan) -> dict[str, Any]:
        return response(plan, answer(plan), self._host())

    def events(self, plan: Plan) -> list[Ev]:
        pieces = chunks(plan, answer(plan), self._host())
        if self.sse:
            return [Ev(_sse(body), kind) for body, kind in pieces]
        framed = [
            Ev((b"[" if index == 0 else b",\r\n") + dumps(body).encode(), kind)
            for index, (body, kind) in enumerate(pieces)
        ]
        return [*framed, Ev(b"]", "tail")]

    def stream_error(self) -> bytes:
        body = rpc_error(500, INTERNAL)
        return _sse(body) if self.sse else b",\r\n" + dumps(body).encode() + b"]"

    def stream_invalid(self) -> bytes:
        broken = b'{"candidates": [{"content": {'
        return b"data: " + broken + b"\r\n\r\n" if self.sse else b",\r\n" + broken


def _sse(body: object) -> bytes:
    return b"data: " + dumps(body).encode() + b"\r\n\r\n"


def _stream_endpoint(version: str, *, vertex: bool) -> Callable[[Request], Awaitable[Response]]:
    """``alt=sse`` picks Server-Sent Events; without it the stream is a JSON array."""
    sse = GeminiVendor(version, vertex=vertex, stream=True)
    array = GeminiVendor(version, vertex=vertex, stream=True, sse=False)

    async def endpoint(request: Request) -> Response:
        return await handle(sse if request.query_params.get("alt") == "sse" else array, request)

    return endpoint


def _generate_endpoint(version: str, *, vertex: bool) -> Callable[[Request], Awaitable[Response]]:
    vendor = GeminiVendor(version, vertex=vertex, stream=False)

    async def endpoint(request: Request) -> Response:
        return await handle(vendor, request)

    return endpoint


def routes(prefix: str) -> list[Route]:
    """Both hosts' routes, every API version, under ``prefix`` (``""`` or the fault one)."""
    found: list[Route] = []
    hosts = [(v, f"/{v}/models", False) for v in AI_STUDIO_VERSIONS]
    vertex_models = "/projects/{project}/locations/{location}/publishers/google/models"
    hosts += [(v, f"/{v}{vertex_models}", True) for v in VERTEX_VERSIONS]
    for version, models, vertex in hosts:
        path = f"{prefix}{models}/{{model}}"
        generate = _generate_endpoint(version, vertex=vertex)
        stream = _stream_endpoint(version, vertex=vertex)
        found.append(Route(f"{path}:generateContent", generate, methods=["POST"]))
        found.append(Route(f"{path}:streamGenerateContent", stream, methods=["POST"]))
    return found
