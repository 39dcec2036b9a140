"""Settings and model config: read once, lazily, from the one place that reads the environment.

The model config is LiteLLM's proxy `config.yaml` shape:

    model_list:
      - model_name: gpt-4o-mini            # the public name
        litellm_params:
          model: openai/gpt-4o-mini        # provider/model, split on the first "/"
          api_key: os.environ/OPENAI_API_KEY
          api_base: https://api.openai.com/v1
        model_info: {input_cost_per_token: 1.5e-07, output_cost_per_token: 6.0e-07}
    general_settings: {master_key: os.environ/GATEWAY_MASTER_KEY}

`os.environ/NAME` resolves from the environment, then from the provider-secrets
JSON in Secrets Manager (GATEWAY_PROVIDER_SECRETS_ARN) when one is configured.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from gateway.endpoints import Mode
    from gateway.providers.spec import Target

ENV_REF = "os.environ/"
MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's buffered payload limit


class ConfigError(Exception):
    """The operator's config is invalid; raised at load, never from a request."""


@dataclass(frozen=True, slots=True)
class Settings:
    config_path: str | None
    master_key: str | None
    master_key_secret_arn: str | None
    provider_secrets_arn: str | None
    upstream_timeout_s: float
    connect_timeout_s: float
    log_level: str
    sse_keepalive_s: float
    table_name: str | None
    aws_region: str
    dynamodb_endpoint: str
    dynamodb_timeout_s: float
    key_cache_s: float
    cache_bucket: str | None  # the response cache's S3 bucket; None: no response cache
    response_store_bucket: str | None  # stored Responses API responses; None: none kept
    stored_response_ttl_s: float  # how long a stored response can be read back
    spend_queue_url: str | None  # SQS queue of spend events; None: applied directly
    spend_flush_s: float  # how long shutdown may spend delivering held spend events
    event_bus: str  # EventBridge bus of soft-budget alerts
    sqs_endpoint: str
    body_timeout_s: float  # how long a request body may take to arrive
    lambda_function: str | None  # AWS_LAMBDA_FUNCTION_NAME: set only when run by Lambda


KEY_CACHE_MAX_S = 30.0  # the documented bound on revocation; the setting cannot exceed it
STORED_RESPONSE_DAYS = 30.0  # OpenAI keeps stored responses 30 days; the template's default


def _days(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of days from the environment, in seconds."""
    try:
        days = float(env.get(name) or default)
    except ValueError:
        days = math.nan
    if not 0 < days < math.inf:
        raise ConfigError(f"{name} must be a positive number of days")
    return days * 86_400


def _endpoint(env: Mapping[str, str], service: str, region: str) -> str:
    """boto3's endpoint resolution: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, else AWS."""
    explicit = env.get(f"AWS_ENDPOINT_URL_{service.upper()}") or env.get("AWS_ENDPOINT_URL")
    return (explicit or f"https://{service}.{region}.amazonaws.com").rstrip("/")


@functools.cache
def settings() -> Settings:
    env = os.environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    return Settings(
        config_path=env.get("GATEWAY_CONFIG"),
        master_key=env.get("GATEWAY_MASTER_KEY") or None,
        master_key_secret_arn=env.get("GATEWAY_MASTER_KEY_SECRET_ARN") or None,
        provider_secrets_arn=env.get("GATEWAY_PROVIDER_SECRETS_ARN") or None,
        upstream_timeout_s=float(env.get("GATEWAY_UPSTREAM_TIMEOUT_S", "600")),
        connect_timeout_s=float(env.get("GATEWAY_CONNECT_TIMEOUT_S", "10")),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        sse_keepalive_s=float(env.get("GATEWAY_SSE_KEEPALIVE_S", "20")),
        table_name=env.get("GATEWAY_TABLE") or None,
        aws_region=region,
        dynamodb_endpoint=_endpoint(env, "dynamodb", region),
        dynamodb_timeout_s=float(env.get("GATEWAY_DYNAMODB_TIMEOUT_S", "3")),
        key_cache_s=min(float(env.get("GATEWAY_KEY_CACHE_S", "10")), KEY_CACHE_MAX_S),
        cache_bucket=env.get("GATEWAY_CACHE_BUCKET") or None,
        response_store_bucket=env.get("GATEWAY_RESPONSE_STORE_BUCKET") or None,
        # Days, as the template's StoredResponseDays sets the bucket's lifecycle rule.
        stored_response_ttl_s=_days(env, "GATEWAY_STORED_RESPONSE_DAYS", STORED_RESPONSE_DAYS),
        spend_queue_url=env.get("GATEWAY_SPEND_QUEUE_URL") or None,
        # Lambda gives 300 ms from SIGTERM to SIGKILL when only external extensions run.
        spend_flush_s=float(env.get("GATEWAY_SPEND_FLUSH_S", "0.25")),
        event_bus=env.get("GATEWAY_EVENT_BUS") or "default",
        sqs_endpoint=_endpoint(env, "sqs", region),
        # Behind the adapter a body arrives whole; the bound is for a caller that stalls
        # after its headers (`make dev`, or any server the app runs under directly).
        body_timeout_s=float(env.get("GATEWAY_BODY_TIMEOUT_S", "10")),
        lambda_function=env.get("AWS_LAMBDA_FUNCTION_NAME") or None,
    )


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """LiteLLM's model_info keys that the gateway uses (prices per token, in USD)."""

    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    cache_read_input_token_cost: float | None = None
    cache_creation_input_token_cost: float | None = None
    max_tokens: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    input_cost_per_query: float | None = None  # rerank: USD per search unit (query)
    # The model a deployment runs, for its price, where its name says nothing (an Azure
    # deployment called "gpt-4o-prod"): LiteLLM's `base_model`, with or without provider.
    base_model: str | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    target: Target
    info: ModelInfo
    prices_provider: str | None
    # The router's view (LiteLLM's litellm_params / model_info keys of the same names).
    model_id: str = ""  # model_info.id, else derived from the entry: never a credential
    weight: float | None = None
    rpm: int | None = None
    tpm: int | None = None
    order: int | None = None  # priority tier: 1 is tried before 2
    stream_timeout_s: float | None = None  # a stream's wait for its first event
    mode: Mode = "chat"  # LiteLLM's model_info.mode: the endpoints it serves (endpoints.py)

    @property
    def price_model(self) -> str:
        """The model name prices are looked up by: model_info.base_model (less a leading
        catalog provider, as in LiteLLM's "azure/gpt-4o-mini"), else the model."""
        from gateway.providers.catalog import CATALOG

        base = self.info.base_model
        if not base:
            return self.target.model
        provider, _, model = base.partition("/")
        return model if model and provider in CATALOG else base


@dataclass(frozen=True)
class GatewayConfig:
    deployments: tuple[Deployment, ...]
    master_key: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def allow_unpriced_models_with_budgets(self) -> bool:
        """general_settings.allow_unpriced_models_with_budgets: a budgeted caller may use
        a model with no known price (it then runs free); refused otherwise."""
        general = self.raw.get("general_settings") or {}
        return general.get("allow_unpriced_models_with_budgets") is True

    @functools.cached_property
    def groups(self) -> dict[str, list[Deployment]]:
        out: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            out.setdefault(deployment.target.model_name, []).append(deployment)
        return out


def resolve_reference(value: Any, lookup: Callable[[str], str | None]) -> Any:
    """Resolve `os.environ/NAME` strings (anywhere in a value) through `lookup`."""
    if isinstance(value, str) and value.startswith(ENV_REF):
        name = value[len(ENV_REF) :]
        # Unset stays None: one missing provider key must not take down every model.
        return lookup(name)
    if isinstance(value, dict):
        return {k: resolve_reference(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_reference(v, lookup) for v in value]
    return value


def env_lookup(secrets: Mapping[str, str]) -> Callable[[str], str | None]:
    def lookup(name: str) -> str | None:
        return os.environ.get(name) or secrets.get(name)

    return lookup


_INFO_FIELDS = frozenset(ModelInfo.__dataclass_fields__)
_TARGET_KEYS = frozenset(
    {
        "model",
        "api_base",
        "api_key",
        "aws_region_name",
        "aws_bedrock_runtime_endpoint",
        "timeout",
        "stream_timeout",
        "weight",
        "rpm",
        "tpm",
        "order",
    }
)


def split_model(model: str) -> tuple[str, str]:
    """`provider/model`, split on the first "/" only."""
    provider, sep, name = model.partition("/")
    if not sep or not name:
        raise ConfigError(f"model '{model}' must be written provider/model")
    return provider, name


def _number(value: Any, kind: type[int] | type[float], what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{what} must be a non-negative number")
    return kind(value)


def _model_id(entry: Mapping[str, Any], index: int, target: Target) -> str:
    """model_info.id, else a digest of where the entry sends requests (no credentials)."""
    given = (entry.get("model_info") or {}).get("id")
    if given:
        return str(given)
    import hashlib

    where = f"{index}|{target.model_name}|{target.provider}|{target.model}|{target.api_base}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def parse_deployment(
    entry: Mapping[str, Any], lookup: Callable[[str], str | None], index: int = 0
) -> Deployment:
    from gateway.endpoints import mode_of, provider_serves
    from gateway.providers.catalog import CATALOG
    from gateway.providers.dialects import dialect
    from gateway.providers.spec import Target

    name = entry.get("model_name")
    params = resolve_reference(dict(entry.get("litellm_params") or {}), lookup)
    if not isinstance(name, str) or not name or "model" not in params:
        raise ConfigError("each model_list entry needs model_name and litellm_params.model")
    provider, model = split_model(str(params["model"]))
    row = CATALOG.get(provider)
    if row is None:
        raise ConfigError(f"unknown provider '{provider}' in model '{params['model']}'")
    raw_info = dict(entry.get("model_info") or {})
    try:
        mode = mode_of(model, raw_info.get("mode"))
    except ValueError as exc:
        raise ConfigError(f"model '{name}': {exc}") from None
    default_base = row.rerank_base if mode == "rerank" and row.rerank_base else row.api_base
    api_base = params.get("api_base") or params.get("aws_bedrock_runtime_endpoint") or default_base
    api_key = params.get("api_key")
    if "api_key" not in params and row.key_env:  # a named but unset key never falls back
        api_key = lookup(row.key_env)
    info = ModelInfo(**{k: v for k, v in raw_info.items() if k in _INFO_FIELDS})
    target = Target(
        model_name=name,
        provider=provider,
        dialect=row.dialect,
        model=model,
        api_base=str(api_base),
        api_key=api_key,
        region=params.get("aws_region_name") or lookup("AWS_REGION"),
        timeout_s=float(params.get("timeout") or settings().upstream_timeout_s),
        extra={k: v for k, v in params.items() if k not in _TARGET_KEYS},
    )
    try:  # the dialect's own rules: what its API needs, how its model names read
        target = dialect(row.dialect).configure(target)
    except ValueError as exc:
        raise ConfigError(f"model '{name}': {exc}") from None
    if not provider_serves(target, mode):
        raise ConfigError(f"model '{name}': provider '{provider}' has no {mode} API for {model}")
    stream_timeout = params.get("stream_timeout")
    return Deployment(
        target=target,
        info=info,
        prices_provider=row.prices,
        model_id=_model_id(entry, index, target),
        weight=_number(params.get("weight"), float, "weight"),
        rpm=_number(params.get("rpm", entry.get("rpm")), int, "rpm"),
        tpm=_number(params.get("tpm", entry.get("tpm")), int, "tpm"),
        order=_number(params.get("order"), int, "order"),
        stream_timeout_s=_number(stream_timeout, float, "stream_timeout"),
        mode=mode,
    )


def parse_config(raw: Mapping[str, Any], lookup: Callable[[str], str | None]) -> GatewayConfig:
    entries = raw.get("model_list") or []
    if not isinstance(entries, list):
        raise ConfigError("model_list must be a list")
    deployments = tuple(parse_deployment(entry, lookup, i) for i, entry in enumerate(entries))
    modes: dict[str, str] = {}
    for deployment in deployments:
        name = deployment.target.model_name
        if modes.setdefault(name, deployment.mode) != deployment.mode:
            raise ConfigError(f"model '{name}' mixes modes {modes[name]} and {deployment.mode}")
    general = raw.get("general_settings") or {}
    master = general.get("master_key")
    master_key = resolve_reference(master, lookup) if master else None
    return GatewayConfig(deployments=deployments, master_key=master_key, raw=raw)


def read_config(path: str) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping")
    return raw
