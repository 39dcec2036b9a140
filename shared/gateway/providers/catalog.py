"""The provider catalog: every vendor is a row; a vendor that speaks OpenAI is only a row.

`dialect` names the module under gateway.providers that speaks its API;
`api_base` is the default endpoint (a config entry's api_base overrides it);
`key_env` is where LiteLLM users keep the key; `prices` is the genai-prices
provider id used for cost; `rerank_base` is the default endpoint of a rerank
deployment where the vendor's rerank API lives apart from its OpenAI-compatible one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProviderRow:
    dialect: str
    api_base: str
    key_env: str | None
    prices: str | None
    rerank_base: str = ""


CATALOG: dict[str, ProviderRow] = {
    "openai": ProviderRow("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "openai"),
    "anthropic": ProviderRow(
        "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY", "anthropic"
    ),
    "bedrock": ProviderRow("bedrock", "", None, "aws"),
    "groq": ProviderRow("openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "groq"),
    "mistral": ProviderRow("openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "mistral"),
    "deepseek": ProviderRow(
        "openai", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek"
    ),
    "together_ai": ProviderRow(
        "openai", "https://api.together.xyz/v1", "TOGETHERAI_API_KEY", "together"
    ),
    "fireworks_ai": ProviderRow(
        "openai", "https://api.fireworks.ai/inference/v1", "FIREWORKS_AI_API_KEY", "fireworks"
    ),
    "openrouter": ProviderRow(
        "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "openrouter"
    ),
    "xai": ProviderRow("openai", "https://api.x.ai/v1", "XAI_API_KEY", "x-ai"),
    "perplexity": ProviderRow(
        "openai", "https://api.perplexity.ai", "PERPLEXITYAI_API_KEY", "perplexity"
    ),
    "cerebras": ProviderRow("openai", "https://api.cerebras.ai/v1", "CEREBRAS_API_KEY", "cerebras"),
    "deepinfra": ProviderRow(
        "openai", "https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY", None
    ),
    "gemini": ProviderRow(
        "openai",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "GEMINI_API_KEY",
        "google",
    ),
    "cohere_chat": ProviderRow(
        "openai",
        "https://api.cohere.ai/compatibility/v1",
        "COHERE_API_KEY",
        "cohere",
        rerank_base="https://api.cohere.com",
    ),
    # Chat and embeddings through Cohere's compatibility API; rerank is native (v2).
    "cohere": ProviderRow(
        "openai",
        "https://api.cohere.ai/compatibility/v1",
        "COHERE_API_KEY",
        "cohere",
        rerank_base="https://api.cohere.com",
    ),
    "jina_ai": ProviderRow("openai", "https://api.jina.ai/v1", "JINA_AI_API_KEY", None),
    # Self-hosted OpenAI-compatible servers: api_base is required in the config.
    "hosted_vllm": ProviderRow("openai", "", None, None),
    "ollama_chat": ProviderRow("openai", "", None, None),
    "lm_studio": ProviderRow("openai", "", None, None),
    "infinity": ProviderRow("openai", "", None, None),  # Infinity embeddings and rerank
}

DIALECTS = frozenset(row.dialect for row in CATALOG.values())


def endpoint_url(api_base: str, path: str) -> str:
    """`path` under `api_base`, which LiteLLM accepts with or without that path."""
    return api_base.rstrip("/").removesuffix(path) + path
