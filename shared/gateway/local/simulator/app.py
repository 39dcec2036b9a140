"""The ASGI app: vendor routes (also under ``/_fault/{spec}``), ``/_sim`` controls, the CLI."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.local.simulator.anthropic_api import AnthropicCountVendor, AnthropicVendor
from gateway.local.simulator.azure_api import routes as azure_routes
from gateway.local.simulator.bedrock_api import BedrockVendor
from gateway.local.simulator.bedrock_embed import BedrockEmbedVendor, is_embedding_model
from gateway.local.simulator.bedrock_invoke import BedrockCountVendor, BedrockInvokeVendor
from gateway.local.simulator.bedrock_rerank import BedrockRerankVendor, is_rerank_body
from gateway.local.simulator.cohere_rerank import CohereRerankVendor
from gateway.local.simulator.connection import TRANSPORT_KEY, server_transport
from gateway.local.simulator.engine import handle, sim_state
from gateway.local.simulator.entra_oauth import routes as entra_routes
from gateway.local.simulator.fault_spec import PREFIX
from gateway.local.simulator.gemini_api import routes as gemini_routes
from gateway.local.simulator.google_oauth import token as google_token
from gateway.local.simulator.openai_api import OpenAIVendor, list_models
from gateway.local.simulator.openai_completions import OpenAICompletionsVendor
from gateway.local.simulator.openai_embeddings import OpenAIEmbeddingsVendor
from gateway.local.simulator.openai_responses import (
    OpenAIInputTokensVendor,
    OpenAIResponsesVendor,
)
from gateway.local.simulator.state import SimState
from gateway.local.simulator.vendor_quirks import routes as vendor_quirk_routes

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

    from gateway.local.simulator.engine import Vendor

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4010
_PUBLIC_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - listed only to be refused


class SimulatorApp(Starlette):
    """A Starlette app with its state at hand: ``app.set_fault("429")``, ``app.requests``."""

    def __init__(self, sim: SimState) -> None:
        super().__init__(routes=_routes())
        self.sim = sim
        self.state.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":  # before middleware wraps ``send`` (see connection.py)
            scope[TRANSPORT_KEY] = server_transport(send)
        await super().__call__(scope, receive, send)

    def set_fault(self, name: str | None, times: int | None = None) -> None:
        self.sim.set_fault(name, times)

    def reset(self) -> None:
        self.sim.reset()

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.sim.requests


def create_app(state: SimState | None = None) -> SimulatorApp:
    return SimulatorApp(state if state is not None else SimState())


def _endpoint(vendor: Vendor) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handle(vendor, request)

    return endpoint


def _invoke() -> Callable[[Request], Awaitable[Response]]:
    """InvokeModel answers as the model's family does: embedding models, else Claude."""
    claude, embed = BedrockInvokeVendor(stream=False), BedrockEmbedVendor()

    async def endpoint(request: Request) -> Response:
        model_id = str(request.path_params["model_id"])
        return await handle(embed if is_embedding_model(model_id) else claude, request)

    return endpoint


def _rerank(other: Vendor) -> Callable[[Request], Awaitable[Response]]:
    """``/rerank`` is also Bedrock's Rerank API (bedrock-agent-runtime, its own host on
    AWS): a body in that API's shape goes to it, any other to ``other``."""
    bedrock = BedrockRerankVendor()

    async def endpoint(request: Request) -> Response:
        return await handle(bedrock if is_rerank_body(await request.body()) else other, request)

    return endpoint


async def _models(request: Request) -> Response:
    denied = OpenAIVendor().check_auth(request)
    return denied if denied is not None else await list_models(request)


async def _requests(request: Request) -> Response:
    return JSONResponse(sim_state(request).requests)


async def _reset(request: Request) -> Response:
    sim_state(request).reset()
    return JSONResponse({"ok": True})


def _fault_view(state: SimState) -> dict[str, Any]:
    return {"fault": state.fault, "times": state.fault_times, "stall_seconds": state.stall_seconds}


async def _fault(request: Request) -> Response:
    """GET shows the server-level fault; POST {"fault", "times"?, "stall_seconds"?} sets it."""
    state = sim_state(request)
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"{}")
            state.set_fault(body.get("fault"), body.get("times"))
            if body.get("stall_seconds") is not None:
                state.stall_seconds = float(body["stall_seconds"])
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(_fault_view(state))


async def _health(request: Request) -> Response:
    del request
    return JSONResponse({"status": "ok"})


def _vendor_routes(prefix: str) -> list[Route]:
    openai = _endpoint(OpenAIVendor())
    responses = _endpoint(OpenAIResponsesVendor())
    input_tokens = _endpoint(OpenAIInputTokensVendor())
    embeddings = _endpoint(OpenAIEmbeddingsVendor())
    anthropic = f"{prefix}/v1/messages"
    model = f"{prefix}/model/{{model_id:path}}"
    bedrock: dict[str, Vendor] = {
        "converse": BedrockVendor(stream=False),
        "converse-stream": BedrockVendor(stream=True),
        "invoke-with-response-stream": BedrockInvokeVendor(stream=True),
        "count-tokens": BedrockCountVendor(),
    }
    post = ["POST"]
    return [
        Route(f"{prefix}/v1/chat/completions", openai, methods=post),
        Route(f"{prefix}/chat/completions", openai, methods=post),
        Route(f"{prefix}/v1/responses", responses, methods=post),
        Route(f"{prefix}/responses", responses, methods=post),
        Route(f"{prefix}/v1/responses/input_tokens", input_tokens, methods=post),
        Route(f"{prefix}/responses/input_tokens", input_tokens, methods=post),
        Route(f"{prefix}/v1/embeddings", embeddings, methods=post),
        Route(f"{prefix}/embeddings", embeddings, methods=post),
        Route(f"{prefix}/v1beta/openai/embeddings", embeddings, methods=post),  # Gemini's
        Route(f"{prefix}/v1/completions", _endpoint(OpenAICompletionsVendor()), methods=post),
        Route(f"{prefix}/completions", _endpoint(OpenAICompletionsVendor()), methods=post),
        Route(f"{prefix}/v1/rerank", _endpoint(CohereRerankVendor(1)), methods=post),
        Route(f"{prefix}/rerank", _rerank(CohereRerankVendor(1)), methods=post),
        Route(f"{prefix}/v2/rerank", _endpoint(CohereRerankVendor(2)), methods=post),
        Route(anthropic, _endpoint(AnthropicVendor()), methods=post),
        Route(f"{anthropic}/count_tokens", _endpoint(AnthropicCountVendor()), methods=post),
        *(Route(f"{model}/{op}", _endpoint(v), methods=post) for op, v in bedrock.items()),
        Route(f"{model}/invoke", _invoke(), methods=post),
        *azure_routes(prefix),  # Azure OpenAI deployments and v1, Foundry /models
        *gemini_routes(prefix),  # Gemini API and Vertex AI generateContent
    ]


def _routes() -> list[Route]:
    return [
        *_vendor_routes(""),
        *_vendor_routes(PREFIX),
        *vendor_quirk_routes(),  # /_vendor/{row}/v1/chat/completions
        *entra_routes(),  # Entra ID client credentials, for Azure
        Route("/v1/models", _models, methods=["GET"]),
        Route("/models", _models, methods=["GET"]),
        Route("/token", google_token, methods=["POST"]),  # Google OAuth, for Vertex AI
        Route("/_sim/requests", _requests, methods=["GET"]),
        Route("/_sim/reset", _reset, methods=["POST"]),
        Route("/_sim/fault", _fault, methods=["GET", "POST"]),
        Route("/_sim/health", _health, methods=["GET"]),
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.local.simulator",
        description="Fake OpenAI, Anthropic and Bedrock upstreams, with fault injection.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to bind")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--stall-seconds", type=float, default=None, help="timeout/stall length")
    parser.add_argument("--fault", default=None, help="server-level fault from the start")
    parser.add_argument("--log-level", default="warning")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    args = _parser().parse_args(argv)
    if args.host in _PUBLIC_HOSTS:
        _parser().error("the simulator binds loopback only (e.g. 127.0.0.1)")
    state = SimState()
    state.set_fault(args.fault)
    if args.stall_seconds is not None:
        state.stall_seconds = args.stall_seconds
    uvicorn.run(
        create_app(state),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=1,
    )
