"""Claude's rules (providers/claude.py) hold alike through the Anthropic and Bedrock dialects."""

from __future__ import annotations

from typing import Any

import pytest
from test_bedrock import validation_report

from gateway import errors
from gateway.providers import anthropic, bedrock, claude, params
from gateway.providers.spec import Target, UpstreamRequest
from gateway.schemas.openai import ChatCompletionRequest

# ---- model ids -------------------------------------------------------------------------

ARN = "arn:aws:bedrock:us-east-1::foundation-model/"
PROFILE_ARN = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/"


@pytest.mark.parametrize(
    ("model", "version"),
    [
        ("claude-3-haiku-20240307", (3, 0)),
        ("claude-3-5-haiku-20241022", (3, 5)),
        ("claude-3-7-sonnet-latest", (3, 7)),
        ("claude-sonnet-4-20250514", (4, 0)),
        ("claude-sonnet-4-5-20250929", (4, 5)),
        ("claude-opus-4-7", (4, 7)),
        ("claude-mythos-preview", None),
        ("anthropic.claude-3-haiku-20240307-v1:0", (3, 0)),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", (3, 5)),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", (3, 5)),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", (3, 7)),
        ("anthropic.claude-opus-4-20250514-v1:0", (4, 0)),  # the date is no minor version
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", (4, 5)),
        ("anthropic.claude-opus-4-6-v1", (4, 6)),
        ("global.anthropic.claude-opus-4-7-v1:0", (4, 7)),
        (f"{ARN}anthropic.claude-3-5-sonnet-20240620-v1:0", (3, 5)),
        (f"{ARN}anthropic.claude-opus-4-7-v1:0", (4, 7)),
        (f"{PROFILE_ARN}eu.anthropic.claude-sonnet-4-5-20250929-v1:0", (4, 5)),
        ("anthropic.claude-v2:1", None),
        ("anthropic.claude-instant-v1", None),
        ("us.amazon.nova-2-lite-v1:0", None),
        ("meta.llama3-3-70b-instruct-v1:0", None),
    ],
)
def test_model_version(model: str, version: tuple[int, int] | None) -> None:
    assert claude.model_version(model) == version


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-5-20250929", True),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", True),
        ("global.anthropic.claude-opus-4-7-v1:0", True),
        (f"{ARN}anthropic.claude-opus-4-7-v1:0", True),
        ("us.amazon.nova-2-lite-v1:0", False),
        ("meta.llama3-3-70b-instruct-v1:0", False),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", False),
    ],
)
def test_is_claude(model: str, expected: bool) -> None:
    assert claude.is_claude(model) is expected


# ---- both dialects ----------------------------------------------------------------------

BEDROCK_IDS = {
    "claude-opus-4-7": "global.anthropic.claude-opus-4-7-v1:0",
    "claude-sonnet-4-5-20250929": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-3-5-haiku-20241022": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "claude-3-haiku-20240307": "anthropic.claude-3-haiku-20240307-v1:0",
}
ADAPTIVE = "claude-opus-4-7"
BUDGET = "claude-sonnet-4-5-20250929"


def chat(**kwargs: Any) -> ChatCompletionRequest:
    kwargs.setdefault("model", "claude")
    kwargs.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return ChatCompletionRequest.model_validate(kwargs)


def target(dialect: str, model: str) -> Target:
    if dialect == "anthropic":
        return Target(
            model_name="claude",
            provider="anthropic",
            dialect="anthropic",
            model=model,
            api_base="https://api.anthropic.com",
            api_key="sk-ant-test",
        )
    return Target(
        model_name="claude",
        provider="bedrock",
        dialect="bedrock",
        model=BEDROCK_IDS[model],
        region="us-east-1",
        api_base="",
    )


def build(dialect: str, model: str, **kwargs: Any) -> UpstreamRequest:
    """The dialect's request; a Bedrock body must also be valid for botocore."""
    built = target(dialect, model)
    if dialect == "anthropic":
        return anthropic.build_request(chat(**kwargs), built)
    upstream = bedrock.build_request(chat(**kwargs), built)
    assert validation_report(upstream.body, built.model, stream=False) == ""
    return upstream


def decision(dialect: str, upstream: UpstreamRequest) -> dict[str, Any]:
    """The Claude decisions, read back from either wire shape."""
    body = upstream.body
    if dialect == "anthropic":
        return {
            "max_tokens": body["max_tokens"],
            "thinking": body.get("thinking"),
            "effort": body.get("output_config", {}).get("effort"),
            "temperature": body.get("temperature"),
            "top_p": body.get("top_p"),
            "dropped": upstream.dropped_params,
        }
    inference = body.get("inferenceConfig", {})
    fields = body.get("additionalModelRequestFields", {})
    return {
        "max_tokens": inference.get("maxTokens"),
        "thinking": fields.get("thinking"),
        "effort": fields.get("output_config", {}).get("effort"),
        "temperature": inference.get("temperature"),
        "top_p": inference.get("topP"),
        "dropped": upstream.dropped_params,
    }


DIALECTS = ["anthropic", "bedrock"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_adaptive_generation_thinks_adaptively_and_drops_sampling(dialect: str) -> None:
    upstream = build(dialect, ADAPTIVE, reasoning_effort="high", temperature=0.3, top_p=0.9)
    assert decision(dialect, upstream) == {
        "max_tokens": claude.ADAPTIVE_MAX_TOKENS,
        "thinking": {"type": "adaptive"},
        "effort": "high",
        "temperature": None,
        "top_p": None,
        "dropped": ("temperature", "top_p"),
    }


def test_bedrock_adaptive_fields() -> None:
    upstream = build("bedrock", ADAPTIVE, reasoning_effort="minimal", max_tokens=3000)
    assert upstream.body["additionalModelRequestFields"] == {
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "low"},
    }
    assert upstream.body["inferenceConfig"] == {"maxTokens": 3000}


@pytest.mark.parametrize("limit", [None, 3000])
@pytest.mark.parametrize("effort", sorted(params.THINKING_BUDGETS))
def test_budget_generation_agrees(effort: str, limit: int | None) -> None:
    kwargs: dict[str, Any] = {"reasoning_effort": effort}
    if limit is not None:
        kwargs["max_tokens"] = limit
    sent = [decision(d, build(d, BUDGET, **kwargs)) for d in DIALECTS]
    assert sent[0] == sent[1]
    budget = params.THINKING_BUDGETS[effort]
    if limit is None:
        assert sent[0]["max_tokens"] == budget + claude.default_max_tokens((4, 5))
    else:
        budget = min(budget, limit - 1)
        assert sent[0]["max_tokens"] == limit
    assert sent[0]["thinking"] == {"type": "enabled", "budget_tokens": budget}


@pytest.mark.parametrize("model", sorted(BEDROCK_IDS))
def test_default_max_tokens_agree(model: str) -> None:
    sent = [decision(d, build(d, model)) for d in DIALECTS]
    assert sent[0] == sent[1]
    assert sent[0]["max_tokens"] == claude.default_max_tokens(claude.model_version(model))


def test_thinking_drops_the_sampling_it_forbids_in_both() -> None:
    kwargs = {"reasoning_effort": "low", "temperature": 0.2, "top_p": 0.5}
    sent = [decision(d, build(d, BUDGET, **kwargs)) for d in DIALECTS]
    assert sent[0] == sent[1]
    assert sent[0]["dropped"] == ("temperature", "top_p")
    kept = [decision(d, build(d, BUDGET, temperature=0.2, top_p=0.5)) for d in DIALECTS]
    assert kept[0] == kept[1]
    assert (kept[0]["temperature"], kept[0]["top_p"]) == (0.2, 0.5)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_budget_below_the_minimum_is_refused(dialect: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        build(dialect, BUDGET, reasoning_effort="low", max_tokens=1024)
    assert caught.value.param == "reasoning_effort"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_thinking_refuses_a_forced_tool_choice(dialect: str) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        build(dialect, BUDGET, reasoning_effort="low", tools=tools, tool_choice="required")
    assert caught.value.param == "tool_choice"


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAA=", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-1"}},
    ],
)
def test_unsupported_part_is_one_error(part: dict[str, Any]) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hi"}, part]}]
    caught: list[dict[str, object]] = []
    for dialect in DIALECTS:
        with pytest.raises(errors.GatewayError) as raised:
            build(dialect, BUDGET, messages=messages)
        caught.append(raised.value.body()["error"])
    assert caught[0] == caught[1]
    assert caught[0]["code"] == "unsupported_parameter"
    assert caught[0]["param"] == "messages[0].content[1]"
