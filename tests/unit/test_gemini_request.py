"""The Gemini dialect's requests: golden files for AI Studio and Vertex AI, and the policy.

The golden bodies were checked field by field against the google-genai SDK's types
(Content, Tool, ToolConfig, SafetySetting, GenerationConfig; extra fields forbidden),
which name both APIs' wire fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway import errors
from gateway.providers import gemini
from gateway.providers.catalog import CATALOG
from gateway.providers.gemini.calls import SKIP_SIGNATURE, signature_of, tool_call_id
from gateway.providers.params import TRANSLATED_DEFAULTS, Support
from gateway.providers.spec import Target
from gateway.schemas.openai import ChatCompletionRequest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"
REQUEST_CASES = sorted(
    p.name.removesuffix(".request.json") for p in FIXTURES.glob("*.request.json")
)
SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "acme-prod",
    "private_key_id": "0123456789abcdef",
    "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n",
    "client_email": "gateway@acme-prod.iam.gserviceaccount.com",
    "client_id": "123456789012345678901",
    "token_uri": "https://oauth2.googleapis.com/token",
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def target(provider: str = "gemini", model: str = "gemini-2.5-flash", **fields: Any) -> Target:
    """A deployment as config.py builds it, then the dialect's configure."""
    extra = dict(fields.pop("extra", {}))
    if extra.get("vertex_credentials") == "SERVICE_ACCOUNT_JSON":
        extra["vertex_credentials"] = json.dumps(SERVICE_ACCOUNT)
    if provider == "gemini":
        fields.setdefault("api_key", "AIza-test-key")
    fields.setdefault("api_base", CATALOG[provider].api_base)
    raw = Target("gemini", provider, "gemini", model, extra=extra, **fields)
    return gemini.configure(raw)


def chat(**kwargs: Any) -> ChatCompletionRequest:
    kwargs.setdefault("model", "gemini")
    kwargs.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return ChatCompletionRequest.model_validate(kwargs)


def body(**kwargs: Any) -> dict[str, Any]:
    return gemini.build_request(chat(**kwargs), target()).body


# ---- golden files ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_golden(case: str, stream: bool) -> None:
    golden = load(f"{case}.request.json")
    upstream = gemini.build_request(
        chat(**{**golden["openai"], "stream": stream}), target(**golden["target"])
    )
    expected = golden["gemini"]
    url = expected["url"]
    if stream:
        url = url.replace(":generateContent", ":streamGenerateContent?alt=sse")
    assert upstream.url == url
    assert upstream.body == expected["body"]
    assert upstream.headers == expected["headers"]
    assert list(upstream.dropped_params) == expected["dropped_params"]
    assert upstream.stream is stream
    assert upstream.framing == "sse"
    assert upstream.sigv4_region is None
    if golden["target"]["provider"] == "vertex_ai":
        assert upstream.oauth is not None
        assert upstream.oauth.client_id == SERVICE_ACCOUNT["client_email"]
        assert upstream.oauth.token_url == SERVICE_ACCOUNT["token_uri"]
    else:
        assert upstream.oauth is None


def test_bodies_never_carry_the_model_or_stream_flag() -> None:
    """The model and the stream choice live in the URL, not the body."""
    for case in REQUEST_CASES:
        golden = load(f"{case}.request.json")
        sent = gemini.build_request(
            chat(**golden["openai"], stream=True), target(**golden["target"])
        )
        assert not {"model", "stream"} & set(sent.body)


# ---- parameter policy ------------------------------------------------------------------


def test_params_extend_the_translated_defaults() -> None:
    added = {
        name: support for name, support in gemini.PARAMS.items() if name not in TRANSLATED_DEFAULTS
    }
    assert added == {
        "top_k": Support.MAPPED,
        "thinking": Support.MAPPED,
        "safety_settings": Support.MAPPED,
    }
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        assert gemini.PARAMS[name] is Support.MAPPED
    assert gemini.SAMPLING_DEFAULTS == {}


@pytest.mark.parametrize("name", ["logprobs", "modalities", "audio", "functions", "made_up_param"])
def test_rejected_params(name: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        gemini.build_request(chat(**{name: True}), target())
    assert caught.value.param == name


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": TOOLS, "parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "g"}}},
            "tool_choice",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format.json_schema",
        ),
        (
            {"reasoning_effort": "low", "thinking": {"type": "enabled", "budget_tokens": 10}},
            "thinking",
        ),
        ({"thinking": {"type": "adaptive"}}, "thinking"),
        ({"thinking": {"type": "enabled", "budget_tokens": -5}}, "thinking"),
        ({"thinking": "on"}, "thinking"),
        ({"safety_settings": {"category": "HARM_CATEGORY_HARASSMENT"}}, "safety_settings"),
        ({"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT"}]}, "safety_settings"),
        (
            {"safety_settings": [{"category": "X", "threshold": "Y", "extra": "z"}]},
            "safety_settings",
        ),
        ({"presence_penalty": "high"}, "presence_penalty"),
        ({"frequency_penalty": True}, "frequency_penalty"),
        ({"top_k": 2.5}, "top_k"),
        ({"messages": [{"role": "system", "content": "Be nice."}]}, "messages"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
        (
            {"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
    ],
)
def test_value_level_rejections(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        gemini.build_request(chat(**kwargs), target())
    assert caught.value.status == 400
    assert caught.value.param == param


def test_the_flag_matches_the_dialect() -> None:
    assert gemini.NEEDS_A_TURN is True  # test_value_level_rejections: system alone is refused


# ---- tools ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "f"}},
            {"mode": "ANY", "allowedFunctionNames": ["f"]},
        ),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    sent = body(tools=TOOLS, tool_choice=choice)
    assert sent["toolConfig"] == {"functionCallingConfig": config}
    assert sent["tools"] == [
        {"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]}
    ]


def test_no_tool_choice_sends_no_tool_config() -> None:
    assert "toolConfig" not in body(tools=TOOLS)


@pytest.mark.parametrize("choice", [None, "auto", "none"])
def test_tool_choice_without_tools_is_quiet(choice: str | None) -> None:
    sent = body(tool_choice=choice) if choice else body()
    assert "tools" not in sent
    assert "toolConfig" not in sent


def test_parallel_tool_calls_true_is_the_default() -> None:
    assert "toolConfig" not in body(tools=TOOLS, parallel_tool_calls=True)


def history(call_id: str) -> list[dict[str, Any]]:
    call = {"id": call_id, "type": "function", "function": {"name": "f", "arguments": ""}}
    return [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": "Calling.",
            "tool_calls": [call, {**call, "id": "second"}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "done"},
        {"role": "tool", "tool_call_id": "second", "content": "done too"},
    ]


def test_tool_history_round_trips_the_signature() -> None:
    call_id = tool_call_id("chatcmpl-1", 0, None, "c2lnbmF0dXJl")
    assert signature_of(call_id) == "c2lnbmF0dXJl"
    contents = body(messages=history(call_id), tools=TOOLS)["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "Calling."},
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2lnbmF0dXJl"},
            {"functionCall": {"name": "f", "args": {}}},
        ],
    }
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "f", "response": {"content": "done"}}},
        {"functionResponse": {"name": "f", "response": {"content": "done too"}}},
    ]


@pytest.mark.parametrize(
    ("model", "signed"),
    [
        ("gemini-2.5-flash", False),
        ("gemini-3-pro-preview", True),
        ("gemini-3.1-flash-lite-preview", True),
        ("gemini-10-ultra", True),
    ],
)
def test_unsigned_calls_get_the_skip_value_on_gemini_3(model: str, signed: bool) -> None:
    sent = gemini.build_request(
        chat(messages=history("plain"), tools=TOOLS), target(model=model)
    ).body
    first, second = sent["contents"][1]["parts"][1:]
    assert first.get("thoughtSignature") == (SKIP_SIGNATURE if signed else None)
    assert "thoughtSignature" not in second  # only the first call of a turn is validated


def test_invalid_tool_arguments_name_the_call() -> None:
    messages = history("x")
    messages[1]["tool_calls"][0]["function"]["arguments"] = "[1, 2]"
    with pytest.raises(errors.InvalidRequestError) as caught:
        body(messages=messages, tools=TOOLS)
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_empty_assistant_turns_are_skipped_and_refusals_kept() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": None, "refusal": "I can't."},
        {"role": "user", "content": "c"},
    ]
    assert body(messages=messages)["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "I can't."}]},
        {"role": "user", "parts": [{"text": "c"}]},
    ]


# ---- content parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "mime_type"),
    [
        ("https://example.com/a.png", "image/png"),
        ("http://example.com/a.jpeg", "image/jpeg"),
        ("https://example.com/dir/a.WEBP#frag", "image/webp"),
        ("https://example.com/a.heic", "image/heic"),
    ],
)
def test_image_urls_go_as_file_data(url: str, mime_type: str) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    sent = body(messages=[{"role": "user", "content": [part]}])
    assert sent["contents"][0]["parts"] == [{"fileData": {"mimeType": mime_type, "fileUri": url}}]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://example.com/image", errors.UnsupportedParameterError),
        ("https://example.com/a.svg", errors.UnsupportedParameterError),
        ("ftp://example.com/a.png", errors.InvalidRequestError),
        ("data:image/bmp;base64,Qk0=", errors.InvalidRequestError),
        ("data:image/png;base64,@@not-base64@@", errors.InvalidRequestError),
    ],
)
def test_images_gemini_cannot_take(url: str, kind: type[errors.GatewayError]) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    with pytest.raises(kind) as caught:
        body(messages=[{"role": "user", "content": [part]}])
    assert caught.value.param == "messages[0].content[0].image_url"


@pytest.mark.parametrize(
    ("message", "param"),
    [
        (
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]},
            "messages[0].content[0]",
        ),
        (
            {
                "role": "system",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
            },
            "messages[0].content[0]",
        ),
        (
            {
                "role": "assistant",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
            },
            "messages[0].content[0]",
        ),
    ],
)
def test_parts_gemini_cannot_carry_are_refused(message: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        body(messages=[message, {"role": "user", "content": "hi"}])
    assert caught.value.param == param


# ---- generation config -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effort", "config"),
    [
        ("none", {"thinkingBudget": 0}),
        ("minimal", {"thinkingBudget": 512, "includeThoughts": True}),
        ("low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("medium", {"thinkingBudget": 2048, "includeThoughts": True}),
        ("high", {"thinkingBudget": 4096, "includeThoughts": True}),
        ("xhigh", {"thinkingBudget": 8192, "includeThoughts": True}),
    ],
)
def test_reasoning_effort_budgets(effort: str, config: dict[str, Any]) -> None:
    assert body(reasoning_effort=effort)["generationConfig"]["thinkingConfig"] == config


@pytest.mark.parametrize(
    ("thinking", "config"),
    [
        (
            {"type": "enabled", "budget_tokens": 1024},
            {"includeThoughts": True, "thinkingBudget": 1024},
        ),
        ({"type": "enabled"}, {"includeThoughts": True}),
        ({"type": "enabled", "budget_tokens": 0}, {"includeThoughts": False, "thinkingBudget": 0}),
        ({"type": "disabled"}, {"thinkingBudget": 0}),
    ],
)
def test_thinking_param(thinking: dict[str, Any], config: dict[str, Any]) -> None:
    assert body(thinking=thinking)["generationConfig"]["thinkingConfig"] == config


def test_stop_string_becomes_a_list() -> None:
    assert body(stop="END")["generationConfig"] == {"stopSequences": ["END"]}


def test_client_limit_wins_over_the_deployments() -> None:
    deployment = target(extra={"max_tokens": 2048})
    assert gemini.build_request(chat(), deployment).body["generationConfig"] == {
        "maxOutputTokens": 2048
    }
    sent = gemini.build_request(chat(max_tokens=10), deployment).body
    assert sent["generationConfig"] == {"maxOutputTokens": 10}


def test_plain_request_sends_no_generation_config() -> None:
    assert set(body()) == {"contents"}


def test_text_response_format_sends_nothing() -> None:
    assert "generationConfig" not in body(response_format={"type": "text"})


def test_vertex_safety_method_passes() -> None:
    setting = {
        "category": "HARM_CATEGORY_HATE_SPEECH",
        "threshold": "BLOCK_LOW_AND_ABOVE",
        "method": "SEVERITY",
    }
    assert body(safety_settings=[setting])["safetySettings"] == [setting]
