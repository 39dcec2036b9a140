"""Azure OpenAI and Azure AI Foundry, simulated: OpenAI's answers (``openai_api``,
``openai_embeddings``) in Azure's envelope.

Routes (each also under ``/_fault/{spec}``):

- ``POST /openai/deployments/{deployment}/chat/completions`` and ``.../embeddings``:
  the dated API. ``api-version`` is required (without it Azure's 404 ``{"error":
  {"code": "404", "message": "Resource not found"}}``); the key comes in ``api-key``, or an
  Entra ID token (``entra_oauth``) as ``Authorization: Bearer``; else Azure's 401.
- ``POST /openai/v1/chat/completions`` and ``/openai/v1/embeddings``: the v1 API, the
  deployment named by the body's ``model``; ``api-version`` optional; the key may also
  come as a bearer token.
- ``POST /models/chat/completions``: Foundry's Model Inference API. ``api-version``
  required; ``api-key`` or any bearer token; ``stream_options`` refused with its 422
  (``extra-parameters`` defaults to ``error``) unless the ``extra-parameters`` header
  says ``pass-through`` or ``drop``; the response names the body's ``model``.

On the Azure OpenAI routes the response's ``model`` is the deployment's underlying model
(``deployment_model``: a deployment named after a known model serves it, any other
serves gpt-4o-mini, or text-embedding-3-small for embeddings), chat answers carry
``prompt_filter_results`` and each choice ``content_filter_results``, and a stream opens
with the prompt-annotation event (no choices) and carries one annotation event (a choice
without ``delta``) before its finish chunk, as Azure's content streaming documents.
Fault ``content_policy`` (marker ``[sim-fault:content_policy]``) answers Azure's 400
``content_filter`` / ``ResponsibleAIPolicyViolation``; ``401`` and ``429`` answer
Azure's bodies; other faults OpenAI's.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any, Literal

from starlette.routing import Route

from gateway.local.simulator import entra_oauth
from gateway.local.simulator.engine import ErrorContext, Ev, handle, json_response
from gateway.local.simulator.openai_api import MODELS, OpenAIVendor
from gateway.local.simulator.openai_embeddings import OpenAIEmbeddingsVendor
from gateway.local.simulator.scenario import RETRY_AFTER_SECONDS, RequestError, dumps

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.engine import Vendor
    from gateway.local.simulator.scenario import Parsed, Plan

Api = Literal["deployments", "v1", "models"]

EMBEDDING_MODELS = ("text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002")
_ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API "
    "endpoint for your resource."
)
_FILTERED = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content "
    "management policy. Please modify your prompt and retry. To learn more about our "
    "content filtering policies please read our documentation: "
    "https://go.microsoft.com/fwlink/?linkid=2198766"
)
_SAFE = {"filtered": False, "severity": "safe"}
_NOT_DETECTED = {"filtered": False, "detected": False}
PROMPT_RESULTS = {
    "hate": _SAFE,
    "jailbreak": _NOT_DETECTED,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
}
CHOICE_RESULTS = {
    "hate": _SAFE,
    "protected_material_code": _NOT_DETECTED,
    "protected_material_text": _NOT_DETECTED,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
}


def deployment_model(deployment: str, default: str = "gpt-4o-mini") -> str:
    """The model a simulated deployment serves: the known model it is named after."""
    for model in sorted((*MODELS, *EMBEDDING_MODELS), key=len, reverse=True):
        if deployment.startswith(model):
            return model
    return default


def prompt_filter_results() -> list[dict[str, Any]]:
    return [{"prompt_index": 0, "content_filter_results": PROMPT_RESULTS}]


def _azure_error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _content_filtered() -> dict[str, Any]:
    inner = {
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {**PROMPT_RESULTS, "hate": {"filtered": True, "severity": "high"}},
    }
    error = {"message": _FILTERED, "type": None, "param": "prompt", "code": "content_filter"}
    return {"error": {**error, "status": 400, "innererror": inner}}


def _rate_limited(ctx: ErrorContext) -> dict[str, Any]:
    message = (
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        "2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. "
        f"Please retry after {_retry_seconds(ctx)} seconds. Please go here: "
        "https://aka.ms/oai/quotaincrease if you would like to further increase the "
        "default rate limit."
    )
    return _azure_error("429", message)


def _retry_seconds(ctx: ErrorContext) -> int:
    if ctx.retry_after_ms is not None:
        return max(1, math.ceil(ctx.retry_after_ms / 1000))
    return int(RETRY_AFTER_SECONDS) if ctx.retry_after is None else ctx.retry_after


def _unprocessable(name: str) -> RequestError:
    detail = {
        "detail": [
            {
                "type": "extra_forbidden",
                "loc": ["body", name],
                "msg": "Extra inputs are not permitted",
            }
        ]
    }
    return RequestError(json.dumps(detail), name, status=422, code="Invalid input")


class AzureWire:
    """What the Azure routes share: credentials, api-version, deployment, error bodies.
    Mixed in before an OpenAI vendor, whose answers it keeps."""

    api: Api = "deployments"
    default_model = "gpt-4o-mini"

    def __init__(self, api: Api) -> None:
        self.api = api

    def credential(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else ""
        return request.headers.get("api-key", "") or bearer

    def check_auth(self, request: Request) -> Response | None:
        if request.headers.get("api-key"):
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        # The dated API takes only an Entra token as a bearer; v1 and Foundry, a key too.
        if token and (self.api != "deployments" or entra_oauth.valid(token, time.time())):
            return None
        return self.error("denied", ErrorContext())

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        if self.api != "v1" and not request.query_params.get("api-version"):
            raise RequestError("Resource not found", status=404, code="404")
        if self.api == "models":
            header = request.headers.get("extra-parameters", "error")
            if "stream_options" in body and header not in ("pass-through", "drop"):
                raise _unprocessable("stream_options")
            return super().parse(body, request)  # type: ignore[misc, no-any-return]
        if self.api == "deployments":
            deployment = str(request.path_params["deployment"])
        else:
            deployment = str(body.get("model") or "")
        if deployment:
            body = {**body, "model": deployment_model(deployment, self.default_model)}
        return super().parse(body, request)  # type: ignore[misc, no-any-return]

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        status, body = 0, {}
        if kind in ("denied", "401"):
            status, body = 401, _azure_error("401", _ACCESS_DENIED)
        elif kind == "429":
            status, body = 429, _rate_limited(ctx)
        elif kind == "content_policy":
            status, body = 400, _content_filtered()
        elif kind == "400" and ctx.status == 404:
            status, body = 404, _azure_error("404", ctx.message or "Resource not found")
        elif kind == "400" and ctx.status == 422:
            status, body = 422, _azure_error(ctx.code or "", ctx.message or "", status=422)
        if not status:
            return super().error(kind, ctx)  # type: ignore[misc, no-any-return]
        vendor: Vendor = self  # type: ignore[assignment]
        headers = {**vendor.headers(ctx.request_id), **vendor.retry_headers(status, ctx)}
        return json_response(body, status, headers)


class AzureChatVendor(AzureWire, OpenAIVendor):
    """Chat completions, with Azure's content-filter annotations on Azure OpenAI."""

    name = "azure"

    def success(self, plan: Plan) -> dict[str, Any]:
        body = super().success(plan)
        if self.api == "models":
            return body
        for choice in body["choices"]:
            choice["content_filter_results"] = CHOICE_RESULTS
        return {**body, "prompt_filter_results": prompt_filter_results()}

    def events(self, plan: Plan) -> list[Ev]:
        events = super().events(plan)
        if self.api == "models":
            return events
        head = {"id": "", "object": "", "created": 0, "model": ""}
        prompt = {**head, "prompt_filter_results": prompt_filter_results(), "choices": []}
        annotation = {
            "index": 0,
            "finish_reason": None,
            "content_filter_results": CHOICE_RESULTS,
            "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 1},
        }
        end = next(i for i, event in enumerate(events) if event.kind == "tail")
        events.insert(end, Ev(_sse({**head, "choices": [annotation]})))
        return [Ev(_sse(prompt)), *events]


class AzureEmbeddingsVendor(AzureWire, OpenAIEmbeddingsVendor):
    name = "azure"
    default_model = "text-embedding-3-small"


def _sse(body: object) -> bytes:
    return f"data: {dumps(body)}\n\n".encode()


def _endpoint(vendor: Vendor) -> Any:
    async def endpoint(request: Request) -> Response:
        return await handle(vendor, request)

    return endpoint


def routes(prefix: str) -> list[Route]:
    """The Azure OpenAI and Foundry routes under `prefix` ("" or the fault prefix)."""
    deployments = f"{prefix}/openai/deployments/{{deployment}}"
    table: list[tuple[str, Vendor]] = [
        (f"{deployments}/chat/completions", AzureChatVendor("deployments")),
        (f"{deployments}/embeddings", AzureEmbeddingsVendor("deployments")),
        (f"{prefix}/openai/v1/chat/completions", AzureChatVendor("v1")),
        (f"{prefix}/openai/v1/embeddings", AzureEmbeddingsVendor("v1")),
        (f"{prefix}/models/chat/completions", AzureChatVendor("models")),
    ]
    return [Route(path, _endpoint(vendor), methods=["POST"]) for path, vendor in table]
