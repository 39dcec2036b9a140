"""Model config in LiteLLM's shape, and the provider catalog it resolves against."""

from __future__ import annotations

import importlib.util
import re
from typing import TYPE_CHECKING, Any

import pytest

from gateway import config
from gateway.config import ConfigError, ModelInfo, parse_config, resolve_reference, split_model
from gateway.providers.catalog import CATALOG, DIALECTS

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ENV = {
    "OPENAI_API_KEY": "sk-env-openai",
    "GROQ_API_KEY": "gsk-env-groq",
    "TEAM_KEY": "sk-team",
    "GATEWAY_MASTER_KEY": "sk-master",
    "AWS_REGION": "eu-west-1",
    "NESTED": "nested-value",
}


def lookup_from(values: dict[str, str]) -> Callable[[str], str | None]:
    return values.get


def entry(model: str, name: str = "m", **params: Any) -> dict[str, Any]:
    return {"model_name": name, "litellm_params": {"model": model, **params}}


def parse(*entries: dict[str, Any], env: dict[str, str] = ENV, **raw: Any) -> config.GatewayConfig:
    return parse_config({"model_list": list(entries), **raw}, lookup_from(env))


def one(*entries: dict[str, Any], env: dict[str, str] = ENV) -> config.Deployment:
    [deployment] = parse(*entries, env=env).deployments
    return deployment


# ---- provider/model ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("openai/gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("openrouter/anthropic/claude-3.5-sonnet", ("openrouter", "anthropic/claude-3.5-sonnet")),
        (
            "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct",
            ("hosted_vllm", "meta-llama/Llama-3.1-8B-Instruct"),
        ),
    ],
)
def test_split_on_the_first_slash(model: str, expected: tuple[str, str]) -> None:
    assert split_model(model) == expected


@pytest.mark.parametrize("model", ["gpt-4o-mini", "openai/", ""])
def test_model_must_be_provider_slash_model(model: str) -> None:
    with pytest.raises(ConfigError):
        split_model(model)
    with pytest.raises(ConfigError):
        parse(entry(model))


def test_deployment_from_a_litellm_entry() -> None:
    deployment = one(
        entry(
            "openrouter/anthropic/claude-3.5-sonnet",
            name="sonnet",
            api_key="os.environ/TEAM_KEY",
            api_base="https://openrouter.ai/api/v1",
            timeout=30,
            rpm=100,
            tpm=100000,
        )
    )
    target = deployment.target
    assert (target.model_name, target.provider, target.dialect, target.model) == (
        "sonnet",
        "openrouter",
        "openai",
        "anthropic/claude-3.5-sonnet",
    )
    assert target.api_base == "https://openrouter.ai/api/v1"
    assert target.api_key == "sk-team"
    assert target.timeout_s == 30.0
    assert target.region == "eu-west-1"
    assert dict(target.extra) == {}  # rpm and tpm are the router's, never sent upstream
    assert (deployment.rpm, deployment.tpm) == (100, 100000)
    assert deployment.prices_provider == "openrouter"
    assert deployment.info == ModelInfo()


@pytest.mark.parametrize(
    ("model", "upstream"),
    [
        (
            "bedrock/converse/us.anthropic.claude-3-5-haiku-20241022-v1:0",
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        (
            "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0",
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        ("bedrock/converse/converse/x", "converse/x"),
        ("hosted_vllm/converse/x", "converse/x"),
    ],
)
def test_converse_prefix_is_stripped_for_bedrock_only(model: str, upstream: str) -> None:
    params = {} if model.startswith("bedrock/") else {"api_base": "http://vllm:8000/v1"}
    assert one(entry(model, **params)).target.model == upstream


def test_bedrock_needs_no_api_base() -> None:
    target = one(entry("bedrock/amazon.nova-lite-v1:0", aws_region_name="us-west-2")).target
    assert (target.dialect, target.api_base, target.region, target.api_key) == (
        "bedrock",
        "",
        "us-west-2",
        None,
    )


def test_bedrock_runtime_endpoint_is_the_api_base() -> None:
    endpoint = "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com"
    target = one(
        entry("bedrock/amazon.nova-lite-v1:0", aws_bedrock_runtime_endpoint=endpoint)
    ).target
    assert target.api_base == endpoint
    assert "aws_bedrock_runtime_endpoint" not in target.extra


# ---- catalog defaults and references ---------------------------------------------------------


def test_catalog_defaults_fill_api_base_and_key() -> None:
    deployment = one(entry("groq/llama-3.3-70b-versatile"))
    assert deployment.target.api_base == "https://api.groq.com/openai/v1"
    assert deployment.target.api_key == "gsk-env-groq"
    assert deployment.target.dialect == "openai"
    assert deployment.prices_provider == "groq"


def test_catalog_key_is_read_through_the_lookup() -> None:
    asked: list[str] = []

    def lookup(name: str) -> str | None:
        asked.append(name)
        return f"value-of-{name}"

    [deployment] = parse_config(
        {"model_list": [entry("mistral/mistral-small-latest")]}, lookup
    ).deployments
    assert deployment.target.api_key == "value-of-MISTRAL_API_KEY"
    assert "MISTRAL_API_KEY" in asked


def test_config_values_win_over_catalog_defaults() -> None:
    target = one(
        entry("openai/gpt-4o-mini", api_base="https://proxy.example/v1", api_key="sk-literal")
    ).target
    assert (target.api_base, target.api_key) == ("https://proxy.example/v1", "sk-literal")


def test_missing_catalog_key_is_none() -> None:
    assert one(entry("groq/llama-3.3-70b-versatile"), env={}).target.api_key is None


def test_unset_reference_is_none_not_a_crash() -> None:
    deployment = one(
        entry("hosted_vllm/qwen", api_base="os.environ/VLLM_BASE", api_key="os.environ/NOPE"),
        env={"VLLM_BASE": "http://vllm:8000/v1"},
    )
    assert deployment.target.api_key is None
    assert deployment.target.api_base == "http://vllm:8000/v1"


def test_references_resolve_at_any_depth() -> None:
    deployment = one(
        entry(
            "openai/gpt-4o-mini",
            api_key="os.environ/TEAM_KEY",
            tags=["os.environ/NESTED", "literal"],
            deep={"a": [{"b": "os.environ/NESTED"}, "os.environ/UNSET"], "n": 3, "t": True},
        )
    )
    assert deployment.target.api_key == "sk-team"
    assert dict(deployment.target.extra) == {
        "tags": ["nested-value", "literal"],
        "deep": {"a": [{"b": "nested-value"}, None], "n": 3, "t": True},
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("os.environ/NESTED", "nested-value"),
        ("os.environ/UNSET", None),
        ("prefix os.environ/NESTED", "prefix os.environ/NESTED"),
        ("OS.ENVIRON/NESTED", "OS.ENVIRON/NESTED"),
        (["os.environ/NESTED", 1, None], ["nested-value", 1, None]),
        ({"k": {"k": ["os.environ/NESTED"]}}, {"k": {"k": ["nested-value"]}}),
        (12, 12),
        (None, None),
    ],
)
def test_resolve_reference(value: Any, expected: Any) -> None:
    assert resolve_reference(value, lookup_from(ENV)) == expected


def test_env_lookup_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_BOTH", "from-env")
    monkeypatch.delenv("GW_TEST_SECRET_ONLY", raising=False)
    lookup = config.env_lookup({"GW_TEST_BOTH": "from-secret", "GW_TEST_SECRET_ONLY": "s"})
    assert lookup("GW_TEST_BOTH") == "from-env"
    assert lookup("GW_TEST_SECRET_ONLY") == "s"
    assert lookup("GW_TEST_NEITHER") is None


def test_default_timeout_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_UPSTREAM_TIMEOUT_S", "42")
    config.settings.cache_clear()
    try:
        assert one(entry("openai/gpt-4o-mini")).target.timeout_s == 42.0
    finally:
        config.settings.cache_clear()


# ---- invalid configs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"model_list": [entry("azure_ai/gpt-4o")]},
        {"model_list": [entry("/gpt-4o")]},
        {"model_list": [{"litellm_params": {"model": "openai/gpt-4o"}}]},
        {"model_list": [{"model_name": "", "litellm_params": {"model": "openai/gpt-4o"}}]},
        {"model_list": [{"model_name": 7, "litellm_params": {"model": "openai/gpt-4o"}}]},
        {"model_list": [{"model_name": "m"}]},
        {"model_list": [{"model_name": "m", "litellm_params": {"api_key": "k"}}]},
        {"model_list": [entry("hosted_vllm/qwen")]},
        {"model_list": [entry("hosted_vllm/llama3", api_base="os.environ/UNSET")]},
        {"model_list": {"model_name": "m"}},
    ],
    ids=[
        "unknown-provider",
        "empty-provider",
        "no-model-name",
        "empty-model-name",
        "non-string-model-name",
        "no-litellm-params",
        "no-model",
        "vllm-without-api-base",
        "api-base-reference-unset",
        "model-list-not-a-list",
    ],
)
def test_invalid_config_is_a_config_error(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        parse_config(raw, lookup_from(ENV))


def test_empty_config_has_no_models() -> None:
    parsed = parse_config({}, lookup_from(ENV))
    assert parsed.deployments == ()
    assert parsed.master_key is None


# ---- model_info ------------------------------------------------------------------------------


def test_model_info_prices_are_parsed() -> None:
    info = {
        "input_cost_per_token": 1.5e-07,
        "output_cost_per_token": 6.0e-07,
        "cache_read_input_token_cost": 7.5e-08,
        "cache_creation_input_token_cost": 1.875e-07,
        "max_tokens": 16384,
        "max_input_tokens": 128000,
        "max_output_tokens": 16384,
        "mode": "chat",
        "id": "deployment-1",
    }
    deployment = one({**entry("openai/gpt-4o-mini"), "model_info": info})
    assert deployment.info == ModelInfo(
        input_cost_per_token=1.5e-07,
        output_cost_per_token=6.0e-07,
        cache_read_input_token_cost=7.5e-08,
        cache_creation_input_token_cost=1.875e-07,
        max_tokens=16384,
        max_input_tokens=128000,
        max_output_tokens=16384,
    )


# ---- groups -------------------------------------------------------------------------------


def test_entries_sharing_a_name_are_all_kept() -> None:
    parsed = parse(
        entry("openai/gpt-4o-mini", name="fast"),
        entry("groq/llama-3.1-8b-instant", name="fast"),
        entry("openai/gpt-4o", name="smart"),
    )
    assert len(parsed.deployments) == 3
    fast = parsed.groups["fast"]
    assert [d.target.provider for d in fast] == ["openai", "groq"]
    assert [d.target.model for d in parsed.groups["smart"]] == ["gpt-4o"]


# ---- master key ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("general", "expected"),
    [
        ({"master_key": "sk-literal"}, "sk-literal"),
        ({"master_key": "os.environ/GATEWAY_MASTER_KEY"}, "sk-master"),
        ({"master_key": "os.environ/UNSET"}, None),
        ({"master_key": None}, None),
        ({}, None),
        (None, None),
    ],
)
def test_master_key(general: dict[str, Any] | None, expected: str | None) -> None:
    assert parse(general_settings=general).master_key == expected


# ---- reading the file ------------------------------------------------------------------------


def test_read_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: gpt\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        "      api_key: os.environ/TEAM_KEY\n"
    )
    raw = config.read_config(str(path))
    assert raw == {
        "model_list": [
            {
                "model_name": "gpt",
                "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "os.environ/TEAM_KEY"},
            }
        ]
    }
    assert parse_config(raw, lookup_from(ENV)).groups["gpt"][0].target.api_key == "sk-team"


@pytest.mark.parametrize(("text", "expected"), [("", {}), ("# nothing\n", {})])
def test_read_empty_config(tmp_path: Path, text: str, expected: dict[str, Any]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert config.read_config(str(path)) == expected


def test_read_config_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError):
        config.read_config(str(path))


# ---- the catalog -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def price_providers() -> set[str]:
    from genai_prices import data_snapshot

    return {p.id for p in data_snapshot.get_snapshot().providers}


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_row_is_valid(name: str, price_providers: set[str]) -> None:
    row = CATALOG[name]
    # find_spec locates the module without running it: no dialect is imported here.
    assert importlib.util.find_spec(f"gateway.providers.{row.dialect}") is not None, row.dialect
    # A local server's default is its documented loopback address (tests/unit/test_catalog.py).
    local = row.api_base.startswith(("http://localhost:", "http://127.0.0.1:"))
    assert row.api_base == "" or row.api_base.startswith("https://") or local, row.api_base
    assert row.api_base == row.api_base.rstrip("/")
    assert row.prices is None or row.prices in price_providers, row.prices
    assert row.key_env is None or re.fullmatch(r"[A-Z][A-Z0-9_]*", row.key_env), row.key_env
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name)


def test_rows_without_api_base_need_one_in_config() -> None:
    keyless = [name for name, row in CATALOG.items() if not row.api_base]
    assert {"bedrock", "hosted_vllm", "infinity"} <= set(keyless)
    for name in keyless:
        if CATALOG[name].dialect == "openai":
            with pytest.raises(ConfigError, match="needs an api_base"):
                parse(entry(f"{name}/some-model"))


def test_dialects_are_the_rows_dialects() -> None:
    assert {row.dialect for row in CATALOG.values()} == DIALECTS
    assert {"openai", "anthropic", "bedrock"} <= DIALECTS
