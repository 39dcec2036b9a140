"""The Azure dialect (Azure OpenAI and Azure AI Foundry) against golden files and the
openai SDK's types: URLs and api-versions, each credential mode, configure's refusals,
Azure's content-filter annotations in a stream, and its errors."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)

from chunks import fold
from gateway import errors
from gateway.cache.keys import sampling_defaults
from gateway.config import ConfigError, parse_deployment
from gateway.embeddings import azure as azure_embeddings
from gateway.embeddings.request import validate_embeddings
from gateway.endpoints import provider_serves
from gateway.providers import azure as dialect
from gateway.providers import openai
from gateway.providers.azure import endpoint
from gateway.providers.spec import ResponseMeta, Target, UpstreamEvent
from gateway.schemas.openai import ChatCompletionRequest
from sdk_types import sdk_validate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "azure"
META = ResponseMeta(id="chatcmpl-test", created=1700000000, model="gpt")
RESOURCE = "https://contoso.openai.azure.com"
ENTRA = {"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": "entra-canary"}


def cases(suffix: str, prefix: str = "") -> list[str]:
    return sorted(p.name.removesuffix(suffix) for p in FIXTURES.glob(f"{prefix}*{suffix}"))


REQUEST_CASES = cases(".request.json")
RESPONSE_CASES = [c for c in cases(".response.json") if not c.startswith("error_")]
ERROR_CASES = cases(".response.json", prefix="error_")
STREAM_CASES = cases(".stream.jsonl")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def stream_lines(case: str) -> list[Any]:
    text = (FIXTURES / f"{case}.stream.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def event(line: Any) -> UpstreamEvent:
    return UpstreamEvent(name="message", data=line if isinstance(line, str) else json.dumps(line))


def target(provider: str = "azure", **fields: Any) -> Target:
    values: dict[str, Any] = {
        "model": "gpt-4o-prod",
        "api_base": RESOURCE,
        "api_key": "azure-key-0123",
    } | fields
    return Target(model_name="gpt", provider=provider, dialect="azure", **values)


def chat(**kwargs: Any) -> ChatCompletionRequest:
    kwargs.setdefault("model", "gpt")
    kwargs.setdefault("messages", [{"role": "user", "content": "Hello"}])
    return ChatCompletionRequest.model_validate(kwargs)


# ---- requests: URL, api-version, credentials -------------------------------------------------


def golden_target(case: str) -> Target:
    return target(**{"api_key": None, **load(f"{case}.request.json")["target"]})


def built(case: str, stream: bool) -> Any:
    golden = load(f"{case}.request.json")
    return dialect.build_request(
        chat(**{**golden["client"], "stream": stream}), golden_target(case)
    )


def expected_body(case: str, stream: bool) -> dict[str, Any]:
    upstream = load(f"{case}.request.json")["upstream"]
    body: dict[str, Any] = upstream["body"] | {"stream": stream}
    if stream and upstream["stream_usage"]:
        body["stream_options"] = {"include_usage": True}
    return body


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_golden(case: str, stream: bool) -> None:
    expected = load(f"{case}.request.json")["upstream"]
    upstream = built(case, stream)
    assert upstream.url == expected["url"]
    assert upstream.headers == expected["headers"]
    assert upstream.body == expected_body(case, stream)
    assert upstream.stream is stream
    assert upstream.framing == "sse"
    assert upstream.sigv4_region is None
    grant = upstream.oauth
    assert (grant is None) == ("oauth" not in expected)
    if grant is not None:
        fields = dataclasses.asdict(grant)
        assert fields.pop("secret") == expected_body_secret(case)
        assert fields == expected["oauth"]
        assert "entra-secret-canary" not in repr(grant)


def expected_body_secret(case: str) -> str:
    return str(load(f"{case}.request.json")["target"]["extra"]["client_secret"])


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_every_golden_target_passes_configure(case: str) -> None:
    assert dialect.configure(golden_target(case)) == golden_target(case)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_body_matches_the_sdk(case: str, stream: bool) -> None:
    tp = CompletionCreateParamsStreaming if stream else CompletionCreateParamsNonStreaming
    sdk_validate(tp, built(case, stream).body)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (None, {"include_usage": True}),
        ({"include_usage": False}, {"include_usage": True}),
        ({"include_obfuscation": False}, {"include_obfuscation": False, "include_usage": True}),
    ],
)
def test_a_stream_asks_azure_openai_for_its_usage(options: Any, expected: Any) -> None:
    request = chat(stream=True, **({} if options is None else {"stream_options": options}))
    assert dialect.build_request(request, target()).body["stream_options"] == expected


@pytest.mark.parametrize(
    "where",
    [
        target("azure_ai", api_base="https://contoso-ai.services.ai.azure.com"),
        target(extra={"api_version": "2024-06-01"}),  # before stream_options existed
    ],
    ids=["foundry", "old-api-version"],
)
def test_no_stream_options_where_the_api_refuses_them(where: Target) -> None:
    request = chat(stream=True, stream_options={"include_usage": True})
    body = dialect.build_request(request, where).body
    assert "stream_options" not in body
    assert body["stream"] is True


def test_metadata_is_the_gateways_and_the_request_is_left_alone() -> None:
    request = chat(metadata={"trace_id": "t"}, stream=True)
    body = dialect.build_request(request, target()).body
    assert "metadata" not in body
    assert request.model == "gpt"
    assert request.stream_options is None


@pytest.mark.parametrize(
    ("api_base", "url"),
    [
        (RESOURCE, f"{RESOURCE}/openai/deployments/d/chat/completions?api-version=2024-10-21"),
        (
            f"{RESOURCE}/openai",
            f"{RESOURCE}/openai/deployments/d/chat/completions?api-version=2024-10-21",
        ),
        (f"{RESOURCE}/openai/v1", f"{RESOURCE}/openai/v1/chat/completions"),
        (f"{RESOURCE}/openai/v1/chat/completions", f"{RESOURCE}/openai/v1/chat/completions"),
        (
            "https://apim.contoso.net/llm/",
            "https://apim.contoso.net/llm/openai/deployments/d/chat/completions?api-version=2024-10-21",
        ),
    ],
)
def test_api_base_variants(api_base: str, url: str) -> None:
    where = target(model="d", api_base=api_base)
    assert dialect.configure(where) == where
    assert dialect.build_request(chat(), where).url == url


def test_a_deployment_name_is_quoted_into_the_path() -> None:
    url = dialect.build_request(chat(), target(model="my dep/1")).url
    assert url == (
        f"{RESOURCE}/openai/deployments/my%20dep%2F1/chat/completions?api-version=2024-10-21"
    )


def test_a_key_wins_over_every_other_credential() -> None:
    both = target(extra={"azure_ad_token": "static", **ENTRA})
    upstream = dialect.build_request(chat(), both)
    assert upstream.headers == {"content-type": "application/json", "api-key": "azure-key-0123"}
    assert upstream.oauth is None
    token_only = dialect.build_request(chat(), target(api_key=None, extra={"azure_ad_token": "t"}))
    assert token_only.headers["authorization"] == "Bearer t"
    assert token_only.oauth is None


def test_sampling_defaults_are_azure_openais_only() -> None:
    assert dialect.SAMPLING_DEFAULTS == openai.SAMPLING_DEFAULTS
    assert sampling_defaults("azure") == dialect.SAMPLING_DEFAULTS
    assert sampling_defaults("azure_ai") == {}
    assert dialect.PARAMS is None
    assert dialect.NEEDS_A_TURN is False


# ---- configure -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"api_base": ""}, "azure needs an api_base"),
        ({"api_base": "ftp://contoso"}, "api_base must be an http"),
        (
            {"api_key": None, "extra": {"tenant_id": "t", "client_id": "c"}},
            "an Entra ID credential needs client_secret too",
        ),
        (
            {"api_key": None, "extra": {"client_secret": "s"}},
            "needs tenant_id, client_id too",
        ),
        (
            {"api_base": f"{RESOURCE}/openai/deployments/gpt-4o-prod/chat/completions"},
            "not a deployment URL",
        ),
        ({"api_base": f"{RESOURCE}?api-version=2024-10-21"}, "takes no query string"),
        ({"extra": {"api_version": "2024-10"}}, "api_version '2024-10' is neither"),
        ({"extra": {"api_version": "v2"}}, "api_version 'v2' is neither"),
        (
            {"api_base": f"{RESOURCE}/openai/v1", "extra": {"api_version": "2024-10-21"}},
            "takes no dated api_version",
        ),
        (
            {"api_key": None, "extra": {**ENTRA, "azure_authority_host": "http://login.evil"}},
            "azure_authority_host must be an https:// URL",
        ),
    ],
)
def test_configure_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        dialect.configure(target(**fields))


def test_a_deployment_without_any_credential_loads_and_sends_none() -> None:
    """One unset secret must not take down every model: Azure's 401 answers instead."""
    for provider in ("azure", "azure_ai"):
        bare = dialect.configure(target(provider, api_key=None))
        sent = dialect.build_request(
            ChatCompletionRequest.model_validate(
                {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            ),
            bare,
        )
        assert sent.oauth is None
        assert not {"api-key", "authorization"} & {k.lower() for k in sent.headers}


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"api_key": None, "extra": {"azure_ad_token": "t"}},
        {"api_key": None, "extra": ENTRA},
        {"api_key": None, "extra": {**ENTRA, "azure_authority_host": "http://127.0.0.1:4010"}},
        {"extra": {"api_version": "latest"}},
        {"extra": {"api_version": "2025-04-01-preview"}},
        {"api_base": f"{RESOURCE}/openai/v1", "extra": {"api_version": "preview"}},
    ],
)
def test_configure_accepts(fields: dict[str, Any]) -> None:
    assert dialect.configure(target(**fields)) == target(**fields)


def entry(**params: Any) -> dict[str, Any]:
    return {"model_name": "gpt", "litellm_params": {"model": "azure/gpt-4o-prod", **params}}


def test_the_config_loader_names_the_model_and_the_problem() -> None:
    with pytest.raises(ConfigError, match="model 'gpt': azure needs an api_base"):
        parse_deployment(entry(api_key="k"), {}.get)
    with pytest.raises(ConfigError, match="model 'gpt': an Entra ID credential needs"):
        parse_deployment(entry(api_base=RESOURCE, tenant_id="t"), {}.get)


def test_the_config_loader_reads_the_key_variables_and_extras() -> None:
    env = {"AZURE_API_KEY": "from-env", "AZURE_AI_API_KEY": "foundry-env"}
    deployment = parse_deployment(
        entry(api_base=RESOURCE, api_version="v1", tenant_id="os.environ/TENANT"), env.get
    )
    assert deployment.target.api_key == "from-env"
    assert deployment.target.extra == {"api_version": "v1", "tenant_id": None}
    assert deployment.prices_provider == "azure"
    foundry = {
        "model_name": "m",
        "litellm_params": {"model": "azure_ai/Phi-4", "api_base": RESOURCE},
    }
    assert parse_deployment(foundry, env.get).target.api_key == "foundry-env"


def test_azure_serves_chat_and_embeddings_and_foundry_chat() -> None:
    assert provider_serves(target(), "chat")
    assert provider_serves(target(), "embedding")
    assert not provider_serves(target(), "rerank")
    assert not provider_serves(target(), "completion")
    assert provider_serves(target("azure_ai"), "chat")
    assert not provider_serves(target("azure_ai"), "embedding")


# ---- embeddings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        (
            {},
            f"{RESOURCE}/openai/deployments/embed-prod/embeddings?api-version=2024-10-21",
        ),
        ({"extra": {"api_version": "v1"}}, f"{RESOURCE}/openai/v1/embeddings"),
    ],
)
def test_embeddings_go_to_the_deployment(fields: dict[str, Any], url: str) -> None:
    request = validate_embeddings({"model": "e", "input": ["a", "b"], "dimensions": 256})
    [call] = azure_embeddings.calls(request, target(model="embed-prod", **fields))
    assert call.url == url
    assert call.headers == {"content-type": "application/json", "api-key": "azure-key-0123"}
    assert call.body == {
        "model": "embed-prod",
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 256,
    }


def test_embeddings_with_entra_carry_the_grant() -> None:
    request = validate_embeddings({"model": "e", "input": "a"})
    [call] = azure_embeddings.calls(request, target(api_key=None, extra=ENTRA))
    assert call.oauth == endpoint.grant(target(api_key=None, extra=ENTRA))
    assert "authorization" not in call.headers


# ---- responses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    completion = dialect.parse_response(json.dumps(golden["upstream"]).encode(), META)
    assert completion.response == golden["gateway"]
    assert dataclasses.asdict(completion.usage) == golden["usage"]


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_azures_annotations_keep_the_response_an_sdk_chat_completion(case: str) -> None:
    golden = load(f"{case}.response.json")
    sdk_validate(ChatCompletion, golden["gateway"], strict=False)
    parsed = ChatCompletion.model_validate(golden["gateway"])
    assert parsed.choices[0].message.role == "assistant"
    assert parsed.model_extra is not None
    assert "prompt_filter_results" in parsed.model_extra


# ---- streams -----------------------------------------------------------------------------------


def run_stream(case: str) -> tuple[list[Any], Any]:
    state = dialect.new_stream_state(META)
    chunks = [
        chunk
        for line in stream_lines(case)
        for chunk in dialect.parse_stream_event(state, event(line))
    ]
    return chunks + dialect.finish_stream(state), state


@pytest.mark.parametrize("case", STREAM_CASES)
def test_every_chunk_is_an_sdk_chunk_with_a_delta(case: str) -> None:
    chunks, state = run_stream(case)
    assert state.done
    for chunk in chunks:
        assert chunk["choices"], "a chunk without choices reaches the client"
        assert all("delta" in choice for choice in chunk["choices"])
        sdk_validate(ChatCompletionChunk, chunk, strict=False)
        assert chunk["id"] == META.id
        assert (chunk["model"], chunk["created"]) == (META.model, META.created)


def test_the_first_event_without_choices_yields_nothing() -> None:
    first = stream_lines("plain_text")[0]
    assert first["choices"] == []
    assert "prompt_filter_results" in first
    state = dialect.new_stream_state(META)
    assert dialect.parse_stream_event(state, event(first)) == []
    assert state.usage is None
    assert state.finish_reason is None


def test_a_stream_folds_to_the_response() -> None:
    chunks, state = run_stream("plain_text")
    golden = load("plain_text.response.json")
    folded = fold(chunks, META)
    assert folded["message"]["content"] == golden["gateway"]["choices"][0]["message"]["content"]
    assert folded["finish_reason"] == "stop"
    assert dataclasses.asdict(state.usage) == golden["usage"]
    assert len(chunks) == 5  # prompt annotations and the usage chunk yield nothing


def test_an_asynchronously_filtered_stream_ends_with_content_filter() -> None:
    chunks, state = run_stream("async_filter_blocked")
    assert fold(chunks, META)["message"]["content"] == "Hey Jude,"
    last = chunks[-1]["choices"][0]
    assert last["finish_reason"] == "content_filter"
    assert last["delta"] == {}
    assert last["content_filter_results"]["protected_material_text"]["filtered"] is True
    assert state.finish_reason == "content_filter"
    assert len(chunks) == 5  # the annotation-only event is dropped
    assert chunks[-1]["object"] == "chat.completion.chunk"


def test_a_content_filter_error_event_mid_stream() -> None:
    body = load("error_content_filter.response.json")["upstream"]
    state = dialect.new_stream_state(META)
    with pytest.raises(errors.ContentPolicyError) as caught:
        dialect.parse_stream_event(state, event(body))
    assert caught.value.message == "Azure's content filter refused the request: self_harm (medium)."


def test_other_error_events_fail_the_stream() -> None:
    state = dialect.new_stream_state(META)
    body = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}
    with pytest.raises(errors.UpstreamError, match="failed mid-stream: boom"):
        dialect.parse_stream_event(state, event(body))


def test_a_cut_stream_is_a_failure() -> None:
    state = dialect.new_stream_state(META)
    for line in stream_lines("plain_text")[:3]:
        dialect.parse_stream_event(state, event(line))
    with pytest.raises(errors.UpstreamError, match="ended before it finished"):
        dialect.finish_stream(state)


@pytest.mark.parametrize("data", ['{"choices": ["x"]}', "[1]", "not json"])
def test_malformed_events_are_provider_failures(data: str) -> None:
    with pytest.raises(errors.UpstreamError):
        dialect.parse_stream_event(dialect.new_stream_state(META), UpstreamEvent("message", data))


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    headers = {k.lower(): v for k, v in golden["headers"].items()}
    error = dialect.map_error(golden["status"], json.dumps(golden["upstream"]).encode(), headers)
    expected = golden["gateway"]
    assert error.status == expected["status"]
    assert error.body()["error"] == {
        "message": expected["message"],
        "type": expected["type"],
        "param": expected["param"],
        "code": expected["code"],
    }
    assert error.headers == expected["headers"]
    assert error.billed is expected["billed"]


def test_a_content_filter_refusal_echoes_nothing_of_azures_body() -> None:
    upstream = load("error_content_filter.response.json")["upstream"]
    upstream["error"]["innererror"]["content_filter_result"]["sk-secret"] = {"filtered": True}
    upstream["error"]["innererror"]["content_filter_result"]["hate"] = {
        "filtered": True,
        "severity": "sk-also-secret",
    }
    error = dialect.map_error(400, json.dumps(upstream).encode(), {})
    assert isinstance(error, errors.ContentPolicyError)
    text = json.dumps(error.body())
    for leaked in ("sk-secret", "sk-also-secret", "ResponsibleAIPolicyViolation", "go.microsoft"):
        assert leaked not in text
    assert error.message == "Azure's content filter refused the request: hate, self_harm (medium)."


def test_the_inner_code_alone_marks_a_content_filter() -> None:
    body = {"error": {"code": "BadRequest", "innererror": {"code": "ResponsibleAIPolicyViolation"}}}
    error = dialect.map_error(400, json.dumps(body).encode(), {})
    assert type(error) is errors.ContentPolicyError
    assert error.message == "Azure's content filter refused the request."


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, errors.UpstreamAuthError),
        (403, errors.UpstreamAuthError),
        (429, errors.RateLimitError),
        (500, errors.UpstreamError),
        (503, errors.ServiceUnavailableError),
    ],
)
def test_statuses_without_a_json_body(status: int, kind: type[errors.GatewayError]) -> None:
    error = dialect.map_error(status, b"<html>upstream connect error</html>", {})
    assert type(error) is kind
    assert "upstream connect" not in error.message


def test_every_error_code_maps_to_a_gateway_error() -> None:
    assert all(issubclass(kind, errors.GatewayError) for kind in dialect.ERRORS.values())
    assert dialect.ERRORS["ResponsibleAIPolicyViolation"] is errors.ContentPolicyError


def test_an_azure_deployment_is_priced_by_its_base_model() -> None:
    """A deployment's name says nothing of its model: model_info.base_model prices it."""
    from gateway.spend.cost import priced_model

    named = {"model_name": "gpt", "litellm_params": {"model": "azure/gpt-4o-prod"}}
    params = {"api_base": RESOURCE, "api_key": "k"}
    bare = parse_deployment(
        {**named, "litellm_params": {**named["litellm_params"], **params}}, {}.get
    )
    based = parse_deployment(
        {
            **named,
            "litellm_params": {**named["litellm_params"], **params},
            "model_info": {"base_model": "azure/gpt-4o-mini"},
        },
        {}.get,
    )
    assert bare.price_model == "gpt-4o-prod"
    assert based.price_model == "gpt-4o-mini"
    assert priced_model(based.price_model, based.prices_provider) is not None
