"""OpenAI-compatible vendors as strict as their catalog rows: ``/_vendor/{row}/v1/...``.

A deployment whose api_base is ``http://127.0.0.1:4010/_vendor/mistral/v1`` meets the
OpenAI simulator speaking as that catalog row (gateway/providers/catalog.py) says its
vendor does, and answers 400 (OpenAI-shaped, code ``unsupported_parameter``) to what the
vendor refuses:

- ``stream_options`` where the row's ``stream_usage`` is False. Such a stream carries no
  usage, unless the vendor reports it unasked (``USAGE_UNASKED``), in its finish chunk;
- ``max_completion_tokens`` where the row's ``max_tokens_field`` is ``max_tokens``.

The key is read from the row's ``auth_header`` with its ``auth_scheme`` (401 without
it); a row with no key variable (a local server) also takes requests without one. An
unknown row is a 404. Only chat completions are served here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.local.simulator.engine import ErrorContext, Ev, handle, json_response
from gateway.local.simulator.openai_api import OpenAIVendor
from gateway.local.simulator.scenario import RequestError, dumps
from gateway.providers.catalog import CATALOG

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.scenario import Parsed, Plan
    from gateway.providers.catalog import ProviderRow

PREFIX = "/_vendor/{row}"
# Vendors that refuse stream_options yet end a stream with its usage: Mistral's last
# chunk carries it.
USAGE_UNASKED = frozenset({"mistral"})


class QuirkyVendor(OpenAIVendor):
    """The OpenAI wire, refusing what one catalog row's vendor refuses."""

    def __init__(self, name: str, row: ProviderRow) -> None:
        self.name = f"openai:{name}"
        self.row_name = name
        self.row = row

    def credential(self, request: Request) -> str:
        raw = request.headers.get(self.row.auth_header, "").strip()
        if not self.row.auth_scheme:
            return raw
        scheme, _, token = raw.partition(" ")
        return token.strip() if scheme.lower() == self.row.auth_scheme.lower() else ""

    def check_auth(self, request: Request) -> Response | None:
        if self.row.key_env is None or self.credential(request):
            return None
        return self.error("denied", ErrorContext())

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        refused = []
        if not self.row.stream_usage:
            refused.append("stream_options")
        if self.row.max_tokens_field == "max_tokens":
            refused.append("max_completion_tokens")
        for name in refused:
            if name in body:
                message = f"Unrecognized request argument supplied: {name}"
                raise RequestError(message, name, code="unsupported_parameter")
        return super().parse(body, request)

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        if kind != "400" or ctx.code is None:
            return super().error(kind, ctx)
        error = {
            "message": ctx.message,
            "type": "invalid_request_error",
            "param": ctx.param,
            "code": ctx.code,
        }
        return json_response({"error": error}, ctx.status, self.headers(ctx.request_id))

    def events(self, plan: Plan) -> list[Ev]:
        events = super().events(plan)
        if self.row_name not in USAGE_UNASKED or plan.parsed.include_usage:
            return events
        return [self._with_usage(event, plan) for event in events]

    def _with_usage(self, event: Ev, plan: Plan) -> Ev:
        """The finish chunk, with the usage the vendor reports unasked."""
        if event.kind != "tail" or not event.data.startswith(b"data: {"):
            return event
        body = json.loads(event.data.removeprefix(b"data: "))
        choices = body.get("choices") or [{}]
        if choices[0].get("finish_reason") is None:
            return event
        body["usage"] = self._usage(plan)
        return Ev(f"data: {dumps(body)}\n\n".encode(), event.kind)


def vendor_for(name: str) -> QuirkyVendor | None:
    row = CATALOG.get(name)
    if row is None or row.dialect != "openai":
        return None
    return QuirkyVendor(name, row)


async def _chat(request: Request) -> Response:
    name = str(request.path_params["row"])
    vendor = vendor_for(name)
    if vendor is None:
        message = f"No OpenAI-compatible catalog row named '{name}'."
        error = {"message": message, "type": "invalid_request_error", "code": "not_found"}
        return JSONResponse({"error": error}, status_code=404)
    return await handle(vendor, request)


def routes() -> list[Route]:
    return [
        Route(f"{PREFIX}/v1/chat/completions", _chat, methods=["POST"]),
        Route(f"{PREFIX}/chat/completions", _chat, methods=["POST"]),
    ]
