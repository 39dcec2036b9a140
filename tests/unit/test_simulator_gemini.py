"""The simulator's Gemini API (AI Studio) and Vertex AI generateContent routes, and its
fake Google OAuth token endpoint, over HTTP.

Streams are folded back into one answer and compared with the non-streamed one; every
response object is checked against the field names Google documents for it (``ALLOWED``).
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway.local.simulator.gemini_errors import CONTEXT_WINDOW
from gateway.local.simulator.scenario import TOOL_ARGUMENTS, count_tokens

if TYPE_CHECKING:
    import httpx

    from gateway.local.simulator import SimulatorApp

KEY = {"x-goog-api-key": "AIzaSy-sim-0123456789"}
MODEL = "gemini-2.0-flash"  # does not think unless asked
THINKER = "gemini-2.5-flash"  # thinks by default
STUDIO = f"/v1beta/models/{MODEL}"
VERTEX = "/v1/projects/sim-project/locations/us-central1/publishers/google/models"
WEATHER = {
    "functionDeclarations": [
        {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        }
    ]
}
SERVICE_ACCOUNT = "sim@sim-project.iam.gserviceaccount.com"

# Field names per object, from the REST references of GenerateContentResponse (Gemini API
# and Vertex AI) and google.rpc.Status.
ALLOWED: dict[str, set[str]] = {
    "response": {
        "candidates",
        "promptFeedback",
        "usageMetadata",
        "modelVersion",
        "responseId",
        "createTime",
    },
    "candidate": {
        "content",
        "finishReason",
        "safetyRatings",
        "citationMetadata",
        "tokenCount",
        "index",
        "avgLogprobs",
        "finishMessage",
    },
    "content": {"parts", "role"},
    "part": {"text", "thought", "thoughtSignature", "functionCall", "inlineData"},
    "functionCall": {"id", "name", "args"},
    "usage": {
        "promptTokenCount",
        "cachedContentTokenCount",
        "candidatesTokenCount",
        "toolUsePromptTokenCount",
        "thoughtsTokenCount",
        "totalTokenCount",
        "promptTokensDetails",
        "cacheTokensDetails",
        "candidatesTokensDetails",
        "toolUsePromptTokensDetails",
        "trafficType",
    },
    "modality": {"modality", "tokenCount"},
    "rating": {"category", "probability", "blocked"},
    "feedback": {"blockReason", "safetyRatings"},
    "error": {"code", "message", "status", "details"},
}


def check_keys(kind: str, obj: dict[str, Any]) -> None:
    assert set(obj) <= ALLOWED[kind], (kind, set(obj) - ALLOWED[kind])


def check_response(body: dict[str, Any]) -> None:
    """Every object of a GenerateContentResponse uses only documented names."""
    check_keys("response", body)
    for candidate in body.get("candidates", []):
        check_keys("candidate", candidate)
        if "content" in candidate:
            check_keys("content", candidate["content"])
            for part in candidate["content"].get("parts", []):
                check_keys("part", part)
                if "functionCall" in part:
                    check_keys("functionCall", part["functionCall"])
        for rating in candidate.get("safetyRatings", []):
            check_keys("rating", rating)
    if "promptFeedback" in body:
        check_keys("feedback", body["promptFeedback"])
        for rating in body["promptFeedback"]["safetyRatings"]:
            check_keys("rating", rating)
    usage = body["usageMetadata"]
    check_keys("usage", usage)
    for name in ("promptTokensDetails", "cacheTokensDetails", "candidatesTokensDetails"):
        for detail in usage.get(name, []):
            check_keys("modality", detail)


def check_error(answer: httpx.Response, status: int, rpc: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    check_keys("error", error)
    assert (error["code"], error["status"]) == (status, rpc)
    return dict(error)


# --------------------------------------------------------------------------- helpers


def body_of(text: str = "hello world", **extra: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


def url_of(base: str, *, stream: bool, sse: bool = True) -> str:
    if not stream:
        return f"{base}:generateContent"
    return f"{base}:streamGenerateContent" + ("?alt=sse" if sse else "")


def sse_chunks(raw: str) -> list[dict[str, Any]]:
    """Google's framing exactly: ``data: <json>\\r\\n\\r\\n`` per event."""
    assert raw.endswith("\r\n\r\n")
    events = raw.split("\r\n\r\n")[:-1]
    assert all(event.startswith("data: ") for event in events)
    return [json.loads(event[len("data: ") :]) for event in events]


def merged_parts(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Candidate 0's parts over all bodies, adjacent text of one kind joined, "" dropped."""
    parts: list[dict[str, Any]] = []
    for body in bodies:
        for candidate in body.get("candidates", [])[:1]:
            for part in candidate.get("content", {}).get("parts", []):
                last = parts[-1] if parts else {}
                if part.get("text") == "":
                    continue
                if "text" in part and "text" in last and part.get("thought") == last.get("thought"):
                    last["text"] += part["text"]
                else:
                    parts.append(dict(part))
    return parts


def fold(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """What matters of one answer, from the whole response or from its chunks."""
    last = bodies[-1]
    candidates = last.get("candidates", [{}])
    return {
        "parts": merged_parts(bodies),
        "finishReason": candidates[0].get("finishReason"),
        "usage": last["usageMetadata"],
        "promptFeedback": last.get("promptFeedback"),
        "modelVersion": last["modelVersion"],
    }


def call(
    http: httpx.Client,
    body: dict[str, Any],
    *,
    stream: bool = False,
    base: str = STUDIO,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The folded answer, after checking every body's field names."""
    answer = http.post(url_of(base, stream=stream), json=body, headers=headers or KEY)
    assert answer.status_code == 200, answer.text
    bodies = sse_chunks(answer.text) if stream else [answer.json()]
    for item in bodies:
        check_response(item)
    return fold(bodies)


# --------------------------------------------------------------------------- plain answers


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_plain_echo(http: httpx.Client, stream: bool, version: str) -> None:
    folded = call(
        http,
        body_of("[sim-chunks:3] hello world"),
        stream=stream,
        base=f"/{version}/models/{MODEL}",
    )
    assert folded["parts"] == [{"text": "Echo: hello world"}]
    assert folded["finishReason"] == "STOP"
    prompt = count_tokens("[sim-chunks:3] hello world")
    out = count_tokens("Echo: hello world")
    assert folded["usage"] == {
        "promptTokenCount": prompt,
        "candidatesTokenCount": out,
        "totalTokenCount": prompt + out,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    assert folded["modelVersion"] == MODEL


def test_stream_folds_to_the_whole_answer(http: httpx.Client) -> None:
    body = body_of(
        "[sim-chunks:4] one two three", systemInstruction={"parts": [{"text": "Be brief."}]}
    )
    assert call(http, body, stream=True) == call(http, body)


def test_stream_chunks_carry_usage_and_end_with_the_finish(http: httpx.Client) -> None:
    answer = http.post(
        url_of(STUDIO, stream=True), json=body_of("[sim-chunks:3] a b c"), headers=KEY
    )
    assert answer.headers["content-type"].startswith("text/event-stream")
    chunks = sse_chunks(answer.text)
    assert len(chunks) == 4
    texts = [chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in chunks]
    assert "".join(texts) == "Echo: a b c"
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None, None, None, "STOP"]
    assert all("usageMetadata" in chunk for chunk in chunks)
    assert all("candidatesTokenCount" not in chunk["usageMetadata"] for chunk in chunks[:-1])
    assert len({chunk["responseId"] for chunk in chunks}) == 1


def test_stream_without_alt_sse_is_a_json_array(http: httpx.Client) -> None:
    url = url_of(STUDIO, stream=True, sse=False)
    answer = http.post(url, json=body_of("[sim-chunks:2] hi"), headers=KEY)
    assert answer.headers["content-type"].startswith("application/json")
    bodies = answer.json()
    assert isinstance(bodies, list)
    assert fold(bodies) == call(http, body_of("[sim-chunks:2] hi"))


def test_snake_case_fields_are_accepted(http: httpx.Client) -> None:
    body = body_of("hi", system_instruction={"parts": [{"text": "sys"}]})
    body["generation_config"] = {
        "max_output_tokens": 100,
        "thinking_config": {"thinking_budget": 0},
    }
    assert call(http, body)["parts"] == [{"text": "Echo: hi"}]


def test_request_is_recorded(http: httpx.Client, sim: SimulatorApp) -> None:
    call(http, body_of("logged"))
    record = sim.requests[-1]
    assert record["vendor"] == "gemini"
    assert record["path"] == f"{STUDIO}:generateContent"
    assert record["json"] == body_of("logged")
    assert record["headers"]["x-goog-api-key"] == KEY["x-goog-api-key"]


# --------------------------------------------------------------------------- tools, json


@pytest.mark.parametrize("stream", [False, True])
def test_function_call(http: httpx.Client, stream: bool) -> None:
    folded = call(http, body_of("What is the weather in Paris?", tools=[WEATHER]), stream=stream)
    assert folded["parts"] == [{"functionCall": {"name": "get_weather", "args": TOOL_ARGUMENTS}}]
    assert folded["finishReason"] == "STOP"
    assert folded["usage"]["candidatesTokenCount"] == count_tokens(json.dumps(TOOL_ARGUMENTS))


def test_function_calling_modes(http: httpx.Client) -> None:
    other = {"name": "get_time", "parameters": {"type": "object"}}
    tools = [{"functionDeclarations": [*WEATHER["functionDeclarations"], other]}]
    forced = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}}
    answer = call(http, body_of("hi", tools=tools, toolConfig=forced))
    assert answer["parts"][0]["functionCall"]["name"] == "get_time"
    off = {"functionCallingConfig": {"mode": "NONE"}}
    answer = call(http, body_of("the weather?", tools=tools, toolConfig=off))
    assert answer["parts"] == [{"text": "Echo: the weather?"}]


def test_function_response_turn_gets_text(http: httpx.Client) -> None:
    call_part = {"functionCall": {"name": "get_weather", "args": TOOL_ARGUMENTS}}
    result = {"functionResponse": {"name": "get_weather", "response": {"weather": "sunny"}}}
    contents = [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [call_part]},
        {"role": "user", "parts": [result]},
    ]
    answer = call(http, {"contents": contents, "tools": [WEATHER]})
    assert answer["parts"] == [{"text": 'Echo: {"weather":"sunny"}'}]


@pytest.mark.parametrize("stream", [False, True])
def test_json_mode(http: httpx.Client, stream: bool) -> None:
    config = {"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT"}}
    answer = call(http, body_of("hi", generationConfig=config), stream=stream)
    assert json.loads(answer["parts"][0]["text"]) == {"reply": "Echo: hi"}


# --------------------------------------------------------------------------- thinking


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_counts_thoughts(http: httpx.Client, stream: bool) -> None:
    answer = call(http, body_of("hi"), stream=stream, base=f"/v1beta/models/{THINKER}")
    thoughts = count_tokens("The user wrote: hi. I will echo it back.")
    usage = answer["usage"]
    assert usage["thoughtsTokenCount"] == thoughts
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + thoughts
    )
    assert answer["parts"] == [{"text": "Echo: hi"}]  # thoughts are not shown unless asked


@pytest.mark.parametrize("stream", [False, True])
def test_include_thoughts_shows_a_thought_part(http: httpx.Client, stream: bool) -> None:
    config = {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}
    answer = call(http, body_of("hi", generationConfig=config), stream=stream)
    assert answer["parts"] == [
        {"text": "The user wrote: hi. I will echo it back.", "thought": True},
        {"text": "Echo: hi"},
    ]


@pytest.mark.parametrize(
    ("model", "config", "thinks"),
    [
        (THINKER, {"thinkingBudget": 0}, False),
        (THINKER, {"thinkingBudget": -1}, True),
        ("gemini-2.5-flash-lite", {}, False),
        ("gemini-2.5-pro", {}, True),
        (MODEL, {"thinkingBudget": 512}, True),
    ],
)
def test_when_a_model_thinks(
    http: httpx.Client, model: str, config: dict[str, Any], thinks: bool
) -> None:
    body = body_of("hi", generationConfig={"thinkingConfig": config})
    usage = call(http, body, base=f"/v1beta/models/{model}")["usage"]
    assert ("thoughtsTokenCount" in usage) is thinks


def test_function_call_after_thinking_carries_a_signature(http: httpx.Client) -> None:
    answer = call(http, body_of("weather?", tools=[WEATHER]), base=f"/v1beta/models/{THINKER}")
    (part,) = answer["parts"]
    assert part["functionCall"]["name"] == "get_weather"
    assert isinstance(part["thoughtSignature"], str)


# --------------------------------------------------------------------------- finish reasons


@pytest.mark.parametrize("stream", [False, True])
def test_safety_marker(http: httpx.Client, stream: bool) -> None:
    answer = http.post(
        url_of(STUDIO, stream=stream), json=body_of("[sim-fault:safety] hi"), headers=KEY
    )
    body = sse_chunks(answer.text)[-1] if stream else answer.json()
    check_response(body)
    (candidate,) = body["candidates"]
    assert candidate["finishReason"] == "SAFETY"
    assert "content" not in candidate
    assert any(rating.get("blocked") for rating in candidate["safetyRatings"])
    assert "candidatesTokenCount" not in body["usageMetadata"]


def test_content_policy_fault_is_a_safety_stop(http: httpx.Client) -> None:
    answer = http.post(
        f"/_fault/content_policy{STUDIO}:generateContent", json=body_of(), headers=KEY
    )
    assert answer.json()["candidates"][0]["finishReason"] == "SAFETY"


@pytest.mark.parametrize("stream", [False, True])
def test_blocked_prompt(http: httpx.Client, stream: bool) -> None:
    body = body_of("[sim-fault:blocked_prompt] hi")
    answer = http.post(url_of(STUDIO, stream=stream), json=body, headers=KEY)
    bodies = sse_chunks(answer.text) if stream else [answer.json()]
    assert len(bodies) == 1
    check_response(bodies[0])
    assert "candidates" not in bodies[0]
    assert bodies[0]["promptFeedback"]["blockReason"] == "SAFETY"
    assert bodies[0]["usageMetadata"]["promptTokenCount"] == count_tokens(
        body["contents"][0]["parts"][0]["text"]
    )


def test_recitation(http: httpx.Client) -> None:
    answer = call(http, body_of("[sim-fault:recitation] hi"), stream=True)
    assert answer["finishReason"] == "RECITATION"
    assert answer["parts"] == []


@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens(http: httpx.Client, stream: bool) -> None:
    body = body_of("one two three four five six", generationConfig={"maxOutputTokens": 4})
    answer = call(http, body, stream=stream)
    assert answer["finishReason"] == "MAX_TOKENS"
    assert answer["parts"] == [{"text": "Echo: one two"}]
    assert answer["usage"]["candidatesTokenCount"] == count_tokens("Echo: one two") <= 4


def test_stop_sequence_cuts_the_text(http: httpx.Client) -> None:
    body = body_of("alpha beta gamma", generationConfig={"stopSequences": [" gamma"]})
    answer = call(http, body)
    assert (answer["parts"], answer["finishReason"]) == ([{"text": "Echo: alpha beta"}], "STOP")


def test_cache_marker_reports_cached_tokens_from_the_second_call(http: httpx.Client) -> None:
    prefix = [
        {"role": "user", "parts": [{"text": "a long shared document " * 5}]},
        {"role": "model", "parts": [{"text": "ok"}]},
    ]
    body = {"contents": [*prefix, {"role": "user", "parts": [{"text": "[sim-cache] question"}]}]}
    first, second = call(http, body)["usage"], call(http, body)["usage"]
    assert "cachedContentTokenCount" not in first
    cached = count_tokens("a long shared document " * 5) + count_tokens("ok")
    assert second["cachedContentTokenCount"] == cached
    assert second["promptTokenCount"] == first["promptTokenCount"]  # cached tokens included
    assert second["cacheTokensDetails"] == [{"modality": "TEXT", "tokenCount": cached}]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "message", "where"),
    [
        (
            body_of(foo=1),
            'Invalid JSON payload received. Unknown name "foo": Cannot find field.',
            None,
        ),
        (
            body_of(generationConfig={"max_tokens": 5}),
            "Invalid JSON payload received. Unknown name \"max_tokens\" at 'generation_config': "
            "Cannot find field.",
            "generation_config",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]},
            "Invalid JSON payload received. Unknown name \"type\" at 'contents[0].parts[0]': "
            "Cannot find field.",
            "contents[0].parts[0]",
        ),
    ],
)
def test_unknown_field_is_invalid_argument(
    http: httpx.Client, body: dict[str, Any], message: str, where: str | None
) -> None:
    answer = http.post(url_of(STUDIO, stream=False), json=body, headers=KEY)
    error = check_error(answer, 400, "INVALID_ARGUMENT")
    assert error["message"] == message
    (violation,) = error["details"][0]["fieldViolations"]
    assert violation.get("field") == where
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
        ({}, "* GenerateContentRequest.contents: contents is not specified\n"),
        (
            {"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]},
            "Please use a valid role: user, model.",
        ),
        (
            {"contents": [{"role": "user", "parts": []}]},
            "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n",
        ),
    ],
)
def test_invalid_contents(http: httpx.Client, body: dict[str, Any], message: str) -> None:
    answer = http.post(url_of(STUDIO, stream=True), json=body, headers=KEY)
    assert check_error(answer, 400, "INVALID_ARGUMENT")["message"] == message


def test_system_instruction_must_be_content(http: httpx.Client) -> None:
    answer = http.post(
        url_of(STUDIO, stream=False), json=body_of(systemInstruction="Be brief"), headers=KEY
    )
    error = check_error(answer, 400, "INVALID_ARGUMENT")
    assert "google.ai.generativelanguage.v1beta.Content" in error["message"]


def test_bad_json(http: httpx.Client) -> None:
    answer = http.post(f"{STUDIO}:generateContent", content=b"{not json", headers=KEY)
    check_error(answer, 400, "INVALID_ARGUMENT")


def test_unknown_model_is_not_found(http: httpx.Client) -> None:
    answer = http.post("/v1beta/models/gpt-4o:generateContent", json=body_of(), headers=KEY)
    error = check_error(answer, 404, "NOT_FOUND")
    assert error["message"].startswith("models/gpt-4o is not found for API version v1beta")


# --------------------------------------------------------------------------- AI Studio auth


def test_key_in_query_is_accepted(http: httpx.Client) -> None:
    answer = http.post(f"{STUDIO}:generateContent?key=AIza-sim", json=body_of())
    assert answer.status_code == 200


def test_missing_key_is_permission_denied(http: httpx.Client) -> None:
    answer = http.post(f"{STUDIO}:generateContent", json=body_of())
    error = check_error(answer, 403, "PERMISSION_DENIED")
    assert error["message"].startswith("Method doesn't allow unregistered callers")


def test_bad_key_fault_is_api_key_invalid(http: httpx.Client) -> None:
    answer = http.post(f"/_fault/401{STUDIO}:generateContent", json=body_of(), headers=KEY)
    error = check_error(answer, 400, "INVALID_ARGUMENT")
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert KEY["x-goog-api-key"] not in answer.text


def test_leak_fault_echoes_the_key(http: httpx.Client) -> None:
    answer = http.post(f"/_fault/leak{STUDIO}:generateContent", json=body_of(), headers=KEY)
    assert KEY["x-goog-api-key"] in answer.text


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("fault", "status", "rpc"),
    [
        ("400", 400, "INVALID_ARGUMENT"),
        ("429", 429, "RESOURCE_EXHAUSTED"),
        ("500", 500, "INTERNAL"),
        ("502", 502, "UNAVAILABLE"),
        ("503", 503, "UNAVAILABLE"),
        ("529", 503, "UNAVAILABLE"),
        ("context_length", 400, "INVALID_ARGUMENT"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_error_faults(http: httpx.Client, fault: str, status: int, rpc: str, stream: bool) -> None:
    url = f"/_fault/{fault}" + url_of(STUDIO, stream=stream)
    check_error(http.post(url, json=body_of(), headers=KEY), status, rpc)


def test_rate_limit_says_when_to_retry_in_the_body(http: httpx.Client) -> None:
    answer = http.post(f"/_fault/429{STUDIO}:generateContent", json=body_of(), headers=KEY)
    assert "retry-after" not in answer.headers
    details = {d["@type"].rsplit(".", 1)[-1]: d for d in answer.json()["error"]["details"]}
    assert details["RetryInfo"]["retryDelay"] == "7s"
    assert details["QuotaFailure"]["violations"][0]["quotaDimensions"]["model"] == MODEL
    spec = "/_fault/429,retry_after=2,times=1"
    answer = http.post(f"{spec}{STUDIO}:generateContent", json=body_of(), headers=KEY)
    assert answer.headers["retry-after"] == "2"
    assert '"retryDelay": "2s"' in answer.text
    assert (
        http.post(f"{spec}{STUDIO}:generateContent", json=body_of(), headers=KEY).status_code == 200
    )


def test_context_length_wording(http: httpx.Client) -> None:
    answer = http.post(
        f"/_fault/context_length{STUDIO}:generateContent", json=body_of("a b"), headers=KEY
    )
    total = CONTEXT_WINDOW + count_tokens("a b")
    assert answer.json()["error"]["message"] == (
        f"The input token count ({total}) exceeds the maximum number of tokens allowed "
        f"({CONTEXT_WINDOW})."
    )


def test_marker_and_header_faults_work_too(http: httpx.Client) -> None:
    answer = http.post(f"{STUDIO}:generateContent", json=body_of("[sim-fault:503] hi"), headers=KEY)
    check_error(answer, 503, "UNAVAILABLE")
    headers = {**KEY, "x-sim-fault": "500"}
    check_error(
        http.post(f"{STUDIO}:generateContent", json=body_of(), headers=headers), 500, "INTERNAL"
    )


def test_truncated_stream_has_no_finish(http: httpx.Client) -> None:
    url = "/_fault/truncate" + url_of(STUDIO, stream=True)
    chunks = sse_chunks(http.post(url, json=body_of("[sim-chunks:5] a b c d"), headers=KEY).text)
    assert len(chunks) == 2
    assert all("finishReason" not in chunk["candidates"][0] for chunk in chunks)


def test_error_event_mid_stream(http: httpx.Client) -> None:
    url = "/_fault/error_event" + url_of(STUDIO, stream=True)
    chunks = sse_chunks(http.post(url, json=body_of("[sim-chunks:3] a b"), headers=KEY).text)
    assert chunks[0]["candidates"][0]["content"]["parts"][0]["text"]
    check_keys("error", chunks[-1]["error"])
    assert chunks[-1]["error"]["status"] == "INTERNAL"


def test_invalid_json_event(http: httpx.Client) -> None:
    url = "/_fault/invalid_json" + url_of(STUDIO, stream=True)
    raw = http.post(url, json=body_of(), headers=KEY).text
    last = raw.split("\r\n\r\n")[-2]
    with pytest.raises(ValueError, match="Expecting"):
        json.loads(last[len("data: ") :])


# --------------------------------------------------------------------------- Vertex AI, OAuth


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def assertion(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": SERVICE_ACCOUNT,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": "https://oauth2.googleapis.com/token",
        "iat": now,
        "exp": now + 3600,
        **claims,
    }
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{b64url(json.dumps(payload).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def mint(
    http: httpx.Client, jwt: str, grant: str = "urn:ietf:params:oauth:grant-type:jwt-bearer"
) -> httpx.Response:
    return http.post("/token", data={"grant_type": grant, "assertion": jwt})


@pytest.fixture
def bearer(http: httpx.Client, sim: SimulatorApp, private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    sim.sim.google_public_key_pem = public_pem(private_key)
    answer = mint(http, assertion(private_key))
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3599
    assert token["access_token"].startswith("ya29.")
    return {"authorization": f"Bearer {token['access_token']}"}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_vertex_with_a_minted_token(
    http: httpx.Client, bearer: dict[str, str], stream: bool, version: str
) -> None:
    base = f"/{version}/projects/p/locations/us-central1/publishers/google/models/{MODEL}"
    answer = call(http, body_of("hello vertex"), stream=stream, base=base, headers=bearer)
    assert answer["parts"] == [{"text": "Echo: hello vertex"}]
    usage = answer["usage"]
    assert usage["trafficType"] == "ON_DEMAND"
    assert usage["candidatesTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": usage["candidatesTokenCount"]}
    ]


def test_vertex_answer_has_create_time(http: httpx.Client, bearer: dict[str, str]) -> None:
    answer = http.post(f"{VERTEX}/{MODEL}:generateContent", json=body_of(), headers=bearer)
    body = answer.json()
    check_response(body)
    assert body["createTime"].endswith("Z")
    assert list(body) == ["candidates", "usageMetadata", "modelVersion", "createTime", "responseId"]


def test_token_mints_are_counted(
    http: httpx.Client, sim: SimulatorApp, bearer: dict[str, str], private_key: rsa.RSAPrivateKey
) -> None:
    assert sim.sim.google_token_mints == 1
    for _ in range(3):
        assert (
            http.post(
                f"{VERTEX}/{MODEL}:generateContent", json=body_of(), headers=bearer
            ).status_code
            == 200
        )
    assert sim.sim.google_token_mints == 1
    assert mint(http, assertion(private_key)).status_code == 200
    assert sim.sim.google_token_mints == 2
    assert [r["vendor"] for r in sim.requests].count("google_oauth") == 2


def test_vertex_without_a_token(http: httpx.Client) -> None:
    answer = http.post(f"{VERTEX}/{MODEL}:generateContent", json=body_of())
    error = check_error(answer, 401, "UNAUTHENTICATED")
    assert error["message"].startswith("Request is missing required authentication credential.")
    assert error["details"][0]["reason"] == "CREDENTIALS_MISSING"


def test_vertex_with_an_api_key(http: httpx.Client) -> None:
    answer = http.post(f"{VERTEX}/{MODEL}:generateContent", json=body_of(), headers=KEY)
    error = check_error(answer, 401, "UNAUTHENTICATED")
    assert error["message"].startswith("API keys are not supported by this API.")


def test_vertex_with_a_token_it_did_not_mint(http: httpx.Client) -> None:
    headers = {"authorization": "Bearer ya29.not-minted"}
    answer = http.post(
        f"{VERTEX}/{MODEL}:streamGenerateContent?alt=sse", json=body_of(), headers=headers
    )
    error = check_error(answer, 401, "UNAUTHENTICATED")
    assert error["message"].startswith("Request had invalid authentication credentials.")


def test_vertex_unknown_model(http: httpx.Client, bearer: dict[str, str]) -> None:
    answer = http.post(f"{VERTEX}/claude-x:generateContent", json=body_of(), headers=bearer)
    error = check_error(answer, 404, "NOT_FOUND")
    assert error["message"].startswith(
        "Publisher Model `projects/sim-project/locations/us-central1/publishers/google/models/"
        "claude-x` was not found"
    )


def test_vertex_faults(http: httpx.Client, bearer: dict[str, str]) -> None:
    answer = http.post(
        f"/_fault/429{VERTEX}/{MODEL}:generateContent", json=body_of(), headers=bearer
    )
    error = check_error(answer, 429, "RESOURCE_EXHAUSTED")
    assert "vertex-ai/generative-ai/docs/error-code-429" in error["message"]


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"exp": int(time.time()) - 10}, "Invalid JWT: Token must be a short-lived token"),
        ({"exp": int(time.time()) + 7200}, "Invalid JWT: Token must be a short-lived token"),
        ({"aud": "https://example.invalid/elsewhere"}, "Invalid JWT: Failed audience check."),
        ({"iss": ""}, "Invalid email or User ID"),
    ],
)
def test_refused_assertions(
    http: httpx.Client, private_key: rsa.RSAPrivateKey, claims: dict[str, Any], description: str
) -> None:
    answer = mint(http, assertion(private_key, **claims))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert answer.json()["error_description"].startswith(description)


def test_signature_is_checked_against_the_configured_key(
    http: httpx.Client, sim: SimulatorApp, private_key: rsa.RSAPrivateKey
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sim.sim.google_public_key_pem = public_pem(private_key)
    answer = mint(http, assertion(other))
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    sim.sim.google_public_key_pem = private_pem  # a key file's private key serves as well
    assert mint(http, assertion(private_key)).status_code == 200
    assert sim.sim.google_token_mints == 1


def test_aud_may_be_this_endpoint(
    http: httpx.Client, base: str, private_key: rsa.RSAPrivateKey
) -> None:
    assert mint(http, assertion(private_key, aud=f"{base}/token")).status_code == 200


def test_wrong_grant_type_and_garbage(http: httpx.Client, private_key: rsa.RSAPrivateKey) -> None:
    answer = mint(http, assertion(private_key), grant="client_credentials")
    assert answer.json()["error"] == "unsupported_grant_type"
    answer = mint(http, "not.a-jwt")
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")
    header = b64url(json.dumps({"alg": "HS256"}).encode())
    answer = mint(http, f"{header}.{b64url(b'{}')}.c2ln")
    assert answer.json()["error"] == "invalid_grant"
