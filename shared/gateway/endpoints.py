"""Which API endpoints a deployment serves: its mode, and what its provider can do.

A deployment's mode is LiteLLM's `model_info.mode` (chat, completion, embedding,
rerank); without one it is read from the model's name (`mode_of`). The mode says
what the model does, the provider what its API offers:

- chat: chat completions, the Responses and Messages APIs, and legacy completions
  (the prompt sent as one user message), on every provider.
- completion: legacy completions, passed through to an OpenAI-compatible
  `/completions` (gpt-3.5-turbo-instruct, davinci-002, a vLLM base model).
- embedding: embeddings, on OpenAI-compatible APIs, Azure OpenAI, Gemini (AI
  Studio), and Bedrock's Titan, Cohere and Nova embedding models.
- rerank: rerank, on Cohere, Bedrock's Cohere and Amazon rerank models, and
  OpenAI-compatible rerank servers (vLLM, Infinity, Jina).

A pair the provider cannot serve is refused at config load; a request to an endpoint
its model does not serve is a 400 naming both (`require`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from gateway.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.config import Deployment
    from gateway.providers.spec import Target

Endpoint = Literal["chat", "responses", "messages", "completions", "embeddings", "rerank"]
Mode = Literal["chat", "completion", "embedding", "rerank"]

PATHS: dict[Endpoint, str] = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "messages": "/v1/messages",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
    "rerank": "/v1/rerank",
}
SERVES: dict[Mode, tuple[Endpoint, ...]] = {
    "chat": ("chat", "responses", "messages", "completions"),
    "completion": ("completions",),
    "embedding": ("embeddings",),
    "rerank": ("rerank",),
}
MODES: tuple[Mode, ...] = tuple(SERVES)

# Bedrock model families by API (the id after any region prefix such as "us.").
BEDROCK_EMBEDDINGS = ("amazon.titan-embed-text", "cohere.embed", "amazon.nova-2-multimodal-embed")
BEDROCK_RERANK = ("cohere.rerank", "amazon.rerank")
# OpenAI's own completion models (its /completions serves no others).
OPENAI_COMPLETION_MODELS = ("gpt-3.5-turbo-instruct", "davinci-002", "babbage-002")


def mode_of(model: str, given: object) -> Mode:
    """The configured mode, else the one the model's name implies, else chat."""
    if given is not None:
        if given not in MODES:
            raise ValueError(f"model_info.mode must be one of {', '.join(MODES)}")
        return given
    name = model.lower()
    if "rerank" in name:
        return "rerank"
    if "embed" in name:
        return "embedding"
    if name.startswith(OPENAI_COMPLETION_MODELS):
        return "completion"
    return "chat"


def bedrock_family(model: str) -> str:
    """A Bedrock model id without its cross-region prefix ("us.", "eu.", "global.")."""
    head, dot, rest = model.partition(".")
    return rest if dot and head in ("us", "eu", "apac", "jp", "au", "ca", "global") else model


def provider_serves(target: Target, mode: Mode) -> bool:
    """Whether the deployment's provider has an API for the mode."""
    if mode == "chat":
        return True
    if target.dialect == "bedrock":
        family = bedrock_family(target.model)
        if mode == "embedding":
            return family.startswith(BEDROCK_EMBEDDINGS)
        return mode == "rerank" and family.startswith(BEDROCK_RERANK)
    if target.dialect == "azure":  # Azure OpenAI's embeddings; Foundry serves chat here
        return mode == "embedding" and target.provider == "azure"
    if target.dialect == "gemini":  # AI Studio's OpenAI-compatible embeddings
        return mode == "embedding" and target.provider == "gemini"
    if target.dialect != "openai":
        return False
    if mode == "rerank":
        return target.provider != "openai"  # OpenAI has no rerank API
    return True


def endpoints(deployment: Deployment) -> tuple[Endpoint, ...]:
    return SERVES[deployment.mode]


def require(group: Sequence[Deployment], endpoint: Endpoint, model: str) -> None:
    """Refuse (400, before anything is admitted) a request to an endpoint the model's
    deployments do not serve. A group has one mode (config.py checks it)."""
    if group:
        check(group[0], endpoint, model)


def check(deployment: Deployment, endpoint: Endpoint, model: str | None = None) -> None:
    """Refuse a call of `endpoint` on a deployment that does not serve it (a fallback
    may lead to a group of another mode)."""
    if endpoint in endpoints(deployment):
        return
    served = ", ".join(PATHS[e] for e in endpoints(deployment))
    raise InvalidRequestError(
        f"{PATHS[endpoint]} is not supported for model '{model or deployment.target.model_name}' "
        f"(provider '{deployment.target.provider}', mode '{deployment.mode}'): it serves "
        f"{served}.",
        param="model",
        code="unsupported_endpoint",
    )
