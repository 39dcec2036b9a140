"""A deployment's mode (model_info.mode, else its name) and the endpoints it serves;
pairs a provider cannot serve refused at load; a group of one mode only."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import ConfigError, parse_config
from gateway.endpoints import PATHS, check, endpoints, require
from gateway.errors import InvalidRequestError


def entry(model: str, name: str = "m", **info: Any) -> dict[str, Any]:
    params = {"model": model, "api_base": "http://127.0.0.1:9/v1", "api_key": "k"}
    return {"model_name": name, "litellm_params": params, "model_info": info}


def deployment(model: str, **info: Any) -> Any:
    return parse_config({"model_list": [entry(model, **info)]}, lambda _: None).deployments[0]


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("openai/gpt-4o-mini", "chat"),
        ("openai/text-embedding-3-small", "embedding"),
        ("bedrock/amazon.titan-embed-text-v2:0", "embedding"),
        ("bedrock/us.cohere.embed-v4:0", "embedding"),
        ("bedrock/amazon.nova-2-multimodal-embeddings-v1:0", "embedding"),
        ("bedrock/amazon.nova-lite-v1:0", "chat"),
        ("bedrock/cohere.rerank-v3-5:0", "rerank"),
        ("cohere/rerank-v3.5", "rerank"),
        ("openai/gpt-3.5-turbo-instruct", "completion"),
        ("openai/davinci-002", "completion"),
        ("anthropic/claude-3-5-haiku-20241022", "chat"),
    ],
)
def test_mode_is_read_from_the_model_name_without_model_info(model: str, mode: str) -> None:
    assert deployment(model).mode == mode


def test_model_info_mode_wins() -> None:
    served = deployment("hosted_vllm/my-base-model", mode="completion")
    assert served.mode == "completion"
    assert endpoints(served) == ("completions",)
    assert deployment("hosted_vllm/bge-m3", mode="embedding").mode == "embedding"


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("anthropic/claude-3-5-haiku-20241022", "embedding"),
        ("anthropic/claude-3-5-haiku-20241022", "completion"),
        ("bedrock/amazon.nova-lite-v1:0", "embedding"),
        ("bedrock/amazon.titan-embed-text-v2:0", "rerank"),
        ("openai/rerank-something", "rerank"),  # OpenAI has no rerank API
        ("openai/gpt-4o", "image_generation"),
    ],
)
def test_a_pair_the_provider_cannot_serve_is_a_config_error(model: str, mode: str) -> None:
    with pytest.raises(ConfigError):
        deployment(model, mode=mode)


def test_a_group_has_one_mode() -> None:
    entries = [entry("openai/gpt-4o-mini"), entry("openai/text-embedding-3-small")]
    with pytest.raises(ConfigError, match="mixes modes"):
        parse_config({"model_list": entries}, lambda _: None)


def test_cohere_rerank_defaults_to_the_native_api() -> None:
    raw = {"model_list": [{"model_name": "r", "litellm_params": {"model": "cohere/rerank-v3.5"}}]}
    (rerank,) = parse_config(raw, lambda _: None).deployments
    assert rerank.target.api_base == "https://api.cohere.com"
    raw = {"model_list": [{"model_name": "c", "litellm_params": {"model": "cohere/command-a"}}]}
    (chat,) = parse_config(raw, lambda _: None).deployments
    assert chat.target.api_base == "https://api.cohere.ai/compatibility/v1"


def test_an_unserved_endpoint_is_a_400_naming_endpoint_provider_and_mode() -> None:
    embedder = deployment("openai/text-embedding-3-small")
    require([embedder], "embeddings", "m")
    with pytest.raises(InvalidRequestError) as caught:
        require([embedder], "chat", "my-embedder")
    error = caught.value
    assert error.status == 400
    assert error.param == "model"
    assert error.code == "unsupported_endpoint"
    for part in (PATHS["chat"], "'my-embedder'", "'openai'", "'embedding'", PATHS["embeddings"]):
        assert part in error.message
    with pytest.raises(InvalidRequestError):
        check(deployment("openai/gpt-4o-mini"), "rerank")
    require([], "rerank", "unknown")  # an unknown model is the router's 404
