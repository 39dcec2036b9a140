"""The provider catalog: every vendor is a row; a vendor that speaks OpenAI is only a row.

`dialect` names the module under gateway.providers that speaks its API;
`api_base` is the default endpoint (a config entry's api_base overrides it);
`key_env` is where LiteLLM users keep the key; `prices` is the genai-prices
provider id used for cost; `rerank_base` is the default endpoint of a rerank
deployment where the vendor's rerank API lives apart from its OpenAI-compatible one.

The rest are an OpenAI-compatible vendor's quirks, as data the openai dialect reads;
each defaults to the OpenAI API's own behaviour and is set only where the vendor
documents (or its errors show) otherwise:
`stream_usage` False: the vendor refuses `stream_options`, so none is sent and the
usage of a stream is what the vendor reports unasked, else the gateway's estimate;
`max_tokens_field` "max_tokens": the vendor takes only `max_tokens`, so a client's
`max_completion_tokens` is sent under that name; `auth_header` and `auth_scheme`: where
the key goes (an empty scheme sends it bare).
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
    stream_usage: bool = True
    max_tokens_field: str = ""  # "": max_tokens and max_completion_tokens go as sent
    auth_header: str = "authorization"
    auth_scheme: str = "Bearer"


CATALOG: dict[str, ProviderRow] = {
    "openai": ProviderRow("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "openai"),
    "anthropic": ProviderRow(
        "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY", "anthropic"
    ),
    "bedrock": ProviderRow("bedrock", "", None, "aws"),
    # Per-resource endpoints (api_base is required; gateway/providers/azure/endpoint.py).
    # genai-prices' "azure" covers *.openai.azure.com and *.services.ai.azure.com, falling
    # back to OpenAI's and other vendors' prices; the model is the deployment name, so a
    # deployment not named after its model needs model_info prices. Foundry's Model
    # Inference API refuses stream_options.
    "azure": ProviderRow("azure", "", "AZURE_API_KEY", "azure"),
    "azure_ai": ProviderRow("azure", "", "AZURE_AI_API_KEY", "azure", stream_usage=False),
    "groq": ProviderRow("openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "groq"),
    # Mistral refuses stream_options and max_completion_tokens (422 extra_forbidden) and
    # reports a stream's usage in its last chunk unasked.
    "mistral": ProviderRow(
        "openai",
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        "mistral",
        stream_usage=False,
        max_tokens_field="max_tokens",
    ),
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
    # Google AI Studio and Vertex AI speak generateContent natively (providers/gemini);
    # genai-prices' "google" prices Gemini models at both.
    "gemini": ProviderRow(
        "gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_KEY", "google"
    ),
    # The host follows litellm_params.vertex_location (providers/gemini/target.py).
    "vertex_ai": ProviderRow("gemini", "", None, "google"),
    "cohere_chat": ProviderRow(
        "openai",
        "https://api.cohere.ai/compatibility/v1",
        "COHERE_API_KEY",
        "cohere",
        rerank_base="https://api.cohere.com",
        stream_usage=False,  # the Compatibility API refuses stream_options
    ),
    # Chat and embeddings through Cohere's compatibility API; rerank is native (v2).
    "cohere": ProviderRow(
        "openai",
        "https://api.cohere.ai/compatibility/v1",
        "COHERE_API_KEY",
        "cohere",
        rerank_base="https://api.cohere.com",
        stream_usage=False,
    ),
    "jina_ai": ProviderRow("openai", "https://api.jina.ai/v1", "JINA_AI_API_KEY", None),
    # Self-hosted OpenAI-compatible servers: api_base is required in the config, or
    # defaults to the server's documented local address.
    "hosted_vllm": ProviderRow("openai", "", None, None),
    "ollama_chat": ProviderRow("openai", "http://localhost:11434/v1", None, None),
    "lm_studio": ProviderRow("openai", "http://localhost:1234/v1", None, None),
    "infinity": ProviderRow("openai", "", None, None),  # Infinity embeddings and rerank
    # ---- OpenAI-compatible vendors: names, bases and key variables as LiteLLM has them --
    # (its provider configs and litellm/llms/openai_like/providers.json), each base checked
    # against the vendor's own documentation where it publishes one.
    # Local servers, at their documented default addresses.
    "ollama": ProviderRow("openai", "http://localhost:11434/v1", None, None),
    "llamafile": ProviderRow("openai", "http://127.0.0.1:8080/v1", "LLAMAFILE_API_KEY", None),
    "llamacpp": ProviderRow("openai", "http://127.0.0.1:8080/v1", None, None),  # llama-server
    "sglang": ProviderRow("openai", "http://127.0.0.1:30000/v1", None, None),
    "docker_model_runner": ProviderRow(
        "openai",
        "http://localhost:12434/engines/v1",
        "DOCKER_MODEL_RUNNER_API_KEY",
        None,
        max_tokens_field="max_tokens",
    ),
    # Any OpenAI-compatible endpoint, and a LiteLLM proxy: api_base is required.
    "custom_openai": ProviderRow("openai", "", None, None),
    "litellm_proxy": ProviderRow("openai", "", "LITELLM_PROXY_API_KEY", None),
    # Per-account endpoints: api_base is required, e.g. Cloudflare Workers AI's
    # https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1 and a Databricks
    # workspace's https://{workspace}/serving-endpoints.
    "cloudflare": ProviderRow("openai", "", "CLOUDFLARE_API_KEY", "cloudflare"),
    "databricks": ProviderRow("openai", "", "DATABRICKS_API_KEY", "databricks"),
    # Hosted inference.
    "sambanova": ProviderRow("openai", "https://api.sambanova.ai/v1", "SAMBANOVA_API_KEY", None),
    "nebius": ProviderRow("openai", "https://api.studio.nebius.ai/v1", "NEBIUS_API_KEY", None),
    "hyperbolic": ProviderRow(
        "openai", "https://api.hyperbolic.xyz/v1", "HYPERBOLIC_API_KEY", None
    ),
    "novita": ProviderRow("openai", "https://api.novita.ai/v3/openai", "NOVITA_API_KEY", "novita"),
    "moonshot": ProviderRow(
        "openai",
        "https://api.moonshot.ai/v1",
        "MOONSHOT_API_KEY",
        "moonshotai",
        max_tokens_field="max_tokens",
    ),
    "zai": ProviderRow("openai", "https://api.z.ai/api/paas/v4", "ZAI_API_KEY", "zai"),
    "dashscope": ProviderRow(
        "openai",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "DASHSCOPE_API_KEY",
        None,
    ),
    "baseten": ProviderRow(
        "openai",
        "https://inference.baseten.co/v1",
        "BASETEN_API_KEY",
        "baseten",
        max_tokens_field="max_tokens",
    ),
    "nvidia_nim": ProviderRow(
        "openai", "https://integrate.api.nvidia.com/v1", "NVIDIA_NIM_API_KEY", None
    ),
    "featherless_ai": ProviderRow(
        "openai",
        "https://api.featherless.ai/v1",
        "FEATHERLESS_API_KEY",
        None,
        max_tokens_field="max_tokens",
    ),
    "github": ProviderRow("openai", "https://models.github.ai/inference", "GITHUB_API_KEY", None),
    "huggingface": ProviderRow("openai", "https://router.huggingface.co/v1", "HF_TOKEN", None),
    "scaleway": ProviderRow("openai", "https://api.scaleway.ai/v1", "SCW_SECRET_KEY", None),
    "ovhcloud": ProviderRow(
        "openai",
        "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1",
        "OVHCLOUD_API_KEY",
        "ovhcloud",
    ),
    "lambda_ai": ProviderRow("openai", "https://api.lambda.ai/v1", "LAMBDA_API_KEY", None),
    "nscale": ProviderRow("openai", "https://inference.api.nscale.com/v1", "NSCALE_API_KEY", None),
    "veniceai": ProviderRow("openai", "https://api.venice.ai/api/v1", "VENICE_AI_API_KEY", None),
    "friendliai": ProviderRow(
        "openai", "https://api.friendli.ai/serverless/v1", "FRIENDLIAI_API_KEY", None
    ),
    "volcengine": ProviderRow(
        "openai", "https://ark.cn-beijing.volces.com/api/v3", "VOLCENGINE_API_KEY", None
    ),
    "minimax": ProviderRow("openai", "https://api.minimax.io/v1", "MINIMAX_API_KEY", "minimax"),
    "aiml": ProviderRow("openai", "https://api.aimlapi.com/v1", "AIML_API_KEY", None),
    "empower": ProviderRow("openai", "https://app.empower.dev/api/v1", "EMPOWER_API_KEY", None),
    "codestral": ProviderRow(
        "openai", "https://codestral.mistral.ai/v1", "CODESTRAL_API_KEY", "mistral"
    ),
    "meta_llama": ProviderRow("openai", "https://api.llama.com/compat/v1", "LLAMA_API_KEY", None),
    "ai21_chat": ProviderRow("openai", "https://api.ai21.com/studio/v1", "AI21_API_KEY", None),
    "v0": ProviderRow("openai", "https://api.v0.dev/v1", "V0_API_KEY", None),
    "morph": ProviderRow("openai", "https://api.morphllm.com/v1", "MORPH_API_KEY", None),
    "gradient_ai": ProviderRow(
        "openai", "https://inference.do-ai.run/v1", "GRADIENT_AI_API_KEY", None
    ),
    "vercel_ai_gateway": ProviderRow(
        "openai", "https://ai-gateway.vercel.sh/v1", "VERCEL_AI_GATEWAY_API_KEY", None
    ),
    "cometapi": ProviderRow("openai", "https://api.cometapi.com/v1", "COMETAPI_KEY", None),
    "wandb": ProviderRow(
        "openai",
        "https://api.inference.wandb.ai/v1",
        "WANDB_API_KEY",
        None,
        max_tokens_field="max_tokens",
    ),
    "publicai": ProviderRow(
        "openai",
        "https://api.publicai.co/v1",
        "PUBLICAI_API_KEY",
        None,
        max_tokens_field="max_tokens",
    ),
    "xiaomi_mimo": ProviderRow(
        "openai",
        "https://api.xiaomimimo.com/v1",
        "XIAOMI_MIMO_API_KEY",
        None,
        max_tokens_field="max_tokens",
    ),
    "synthetic": ProviderRow(
        "openai",
        "https://api.synthetic.new/openai/v1",
        "SYNTHETIC_API_KEY",
        None,
        max_tokens_field="max_tokens",
    ),
    "apertis": ProviderRow(
        "openai", "https://api.stima.tech/v1", "STIMA_API_KEY", None, max_tokens_field="max_tokens"
    ),
    "poe": ProviderRow(
        "openai", "https://api.poe.com/v1", "POE_API_KEY", None, max_tokens_field="max_tokens"
    ),
    "chutes": ProviderRow(
        "openai", "https://llm.chutes.ai/v1", "CHUTES_API_KEY", None, max_tokens_field="max_tokens"
    ),
    "abliteration": ProviderRow(
        "openai", "https://api.abliteration.ai/v1", "ABLITERATION_API_KEY", None
    ),
    "llamagate": ProviderRow(
        "openai",
        "https://api.llamagate.dev/v1",
        "LLAMAGATE_API_KEY",
        None,
        max_tokens_field="max_tokens",
    ),
    "gmi": ProviderRow("openai", "https://api.gmi-serving.com/v1", "GMI_API_KEY", None),
    # Sarvam documents its own header (it also takes a Bearer key on /v1/chat/completions).
    "sarvam": ProviderRow(
        "openai",
        "https://api.sarvam.ai/v1",
        "SARVAM_API_KEY",
        None,
        max_tokens_field="max_tokens",
        auth_header="api-subscription-key",
        auth_scheme="",
    ),
    "assemblyai": ProviderRow(
        "openai", "https://llm-gateway.assemblyai.com/v1", "ASSEMBLYAI_API_KEY", None
    ),
    "aihubmix": ProviderRow("openai", "https://aihubmix.com/v1", "AIHUBMIX_API_KEY", None),
}

DIALECTS = frozenset(row.dialect for row in CATALOG.values())


def endpoint_url(api_base: str, path: str) -> str:
    """`path` under `api_base`, which LiteLLM accepts with or without that path."""
    return api_base.rstrip("/").removesuffix(path) + path
