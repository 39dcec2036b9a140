"""Mutated requests on every inference route and every dialect: no answer is a 5xx.

Each example starts from a valid request of one route (chat completions on a deployment
of each dialect: openai, anthropic, bedrock (Claude and Nova), gemini, vertex_ai, azure;
the Messages and Responses APIs on those same deployments; embeddings, legacy completions
and rerank) and applies one to three mutations: a field dropped, duplicated or given
another JSON type, huge, negative and non-finite numbers, "NaN" strings, odd unicode in
every string, deep nesting, empty arrays, unknown fields, the route's optional parameters
set to plausible or odd values, streaming turned on, tool definitions with odd schemas,
tool-call arguments that are not JSON, images with bad data URLs, and raw bytes (a
duplicated key, a cut body, invalid UTF-8). The answer must be under 500 (the
simulator is never told to fail, so not even an upstream 502 or 503), carry an
x-request-id, and be an error in the route's envelope (Anthropic's on /v1/messages,
OpenAI's elsewhere) or a success.

In-process (the app on httpx's ASGI transport, the simulator on loopback), with the master
key, deterministic (derandomize) and bounded (max_examples per route).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from conftest import ANTHROPIC_KEY, MASTER_KEY, OPENAI_KEY, use_models
from keys import asgi_client, bearer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import httpx

    from conftest import ResponseBucket
    from gateway.local.simulator import SimulatorApp

Path_ = tuple[str | int, ...]
Body = dict[str, Any]

# The deployments, "{sim}" standing for the simulator's address.
DEPLOYMENTS: dict[str, dict[str, str]] = {
    "fz-openai": {"model": "openai/gpt-4o-mini", "api_base": "{sim}/v1", "api_key": OPENAI_KEY},
    "fz-anthropic": {
        "model": "anthropic/claude-3-5-haiku-20241022",
        "api_base": "{sim}",
        "api_key": ANTHROPIC_KEY,
    },
    "fz-bedrock": {
        "model": "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "api_base": "{sim}",
        "aws_region_name": "us-east-1",
    },
    "fz-nova": {
        "model": "bedrock/us.amazon.nova-lite-v1:0",
        "api_base": "{sim}",
        "aws_region_name": "us-east-1",
    },
    "fz-gemini": {"model": "gemini/gemini-2.5-flash", "api_base": "{sim}", "api_key": "AIza-fz"},
    "fz-vertex": {
        "model": "vertex_ai/gemini-2.5-flash",
        "api_base": "{sim}",
        "vertex_project": "fuzz",
        "vertex_location": "us-central1",
        "vertex_credentials": "os.environ/TEST_FUZZ_VERTEX_SA",
    },
    "fz-azure": {
        "model": "azure/gpt-4o-mini-fuzz",
        "api_base": "{sim}",
        "api_key": OPENAI_KEY,
        "api_version": "2024-10-21",
    },
    "fz-embed": {
        "model": "openai/text-embedding-3-small",
        "api_base": "{sim}/v1",
        "api_key": OPENAI_KEY,
    },
    "fz-instruct": {
        "model": "openai/gpt-3.5-turbo-instruct",
        "api_base": "{sim}/v1",
        "api_key": OPENAI_KEY,
    },
    "fz-rerank": {"model": "cohere/rerank-v3.5", "api_base": "{sim}", "api_key": OPENAI_KEY},
}
CHAT_MODELS = [name for name in DEPLOYMENTS if name not in ("fz-embed", "fz-instruct", "fz-rerank")]

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4830000000049454e44ae426082"
    )
).decode()
PNG_URL = f"data:image/png;base64,{PNG}"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "A city."}},
    "required": ["city"],
}
ARGUMENTS = json.dumps({"city": "Paris"})
WEATHER = {"name": "get_weather", "description": "The weather in a city."}


# ---- a valid request per route: a system prompt, an image, a tool's round trip -------------


def chat_body(model: str) -> Body:
    call = {"name": "get_weather", "arguments": ARGUMENTS}
    question = [
        {"type": "text", "text": "What is the weather?"},
        {"type": "image_url", "image_url": {"url": PNG_URL}},
    ]
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": question},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": call}],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny."},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [{"type": "function", "function": {**WEATHER, "parameters": SCHEMA}}],
        "tool_choice": "auto",
        "max_tokens": 64,
        "temperature": 0.2,
        "stream": False,
    }


def messages_body(model: str) -> Body:
    image = {"type": "base64", "media_type": "image/png", "data": PNG}
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    return {
        "model": model,
        "max_tokens": 64,
        "system": "Be brief.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is the weather?"},
                    {"type": "image", "source": image},
                ],
            },
            {"role": "assistant", "content": [use]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny."},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [{**WEATHER, "input_schema": SCHEMA}],
        "temperature": 0.2,
        "stream": False,
    }


def responses_body(model: str) -> Body:
    call = {"call_id": "call_1", "name": "get_weather", "arguments": ARGUMENTS}
    question = [
        {"type": "input_text", "text": "What is the weather?"},
        {"type": "input_image", "image_url": PNG_URL},
    ]
    return {
        "model": model,
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": question},
            {"type": "function_call", **call},
            {"type": "function_call_output", "call_id": "call_1", "output": "Sunny."},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [{"type": "function", **WEATHER, "parameters": SCHEMA}],
        "max_output_tokens": 64,
        "temperature": 0.2,
        "stream": False,
        "store": False,
    }


# route -> (path, models, a valid body for a model)
ROUTES: dict[str, tuple[str, list[str], Callable[[str], Body]]] = {
    "chat": ("/v1/chat/completions", CHAT_MODELS, chat_body),
    "messages": ("/v1/messages", CHAT_MODELS, messages_body),
    "responses": ("/v1/responses", CHAT_MODELS, responses_body),
    "embeddings": (
        "/v1/embeddings",
        ["fz-embed"],
        lambda m: {"model": m, "input": ["hello", "world"], "encoding_format": "float"},
    ),
    "completions": (
        "/v1/completions",
        ["fz-instruct"],
        lambda m: {"model": m, "prompt": ["Say hi"], "max_tokens": 16, "stop": ["\n"]},
    ),
    "rerank": (
        "/v1/rerank",
        ["fz-rerank"],
        lambda m: {"model": m, "query": "hello", "documents": ["hello there", "bye"], "top_n": 1},
    ),
}
STREAMED = ("chat", "messages", "responses", "completions")


# ---- mutations -------------------------------------------------------------------------

DEEP = "\x00deep\x00"  # replaced, once serialized, by deep nesting (json.dumps would recurse)
NUMBERS = [10**30, -(10**30), 2**63, 2**64, -1, -(2**63) - 1, 1e308, -1e308, 5e-324, 10**400]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "nan", "1e999", float("nan"), float("inf")]
ODD_TEXT = [
    "\x00",
    "\ud800",  # a lone surrogate: json.dumps writes it as an escape
    "\u202e\u200b\ufeff",
    "e\u0301\u0301\u0301",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\U0001d518\U0001d52b\U0001d526",
    "\\u0000 [sim-chunks:x] {{ }} %s %n <script>",
    "x" * 20_000,
]
ODD_SCHEMAS: list[Any] = [
    {},
    "object",
    None,
    [],
    {"type": "object", "properties": {"x": {"$ref": "#/definitions/nope"}}},
    {"type": ["object", "null"], "properties": "none"},
    {"type": "object", "properties": {"": {"type": "string"}}, "required": [""]},
    {"type": "object", "properties": {"x": {"type": "array"}}, "required": ["y"]},
    {"type": "string", "enum": list(range(300))},
    {"type": "object", "additionalProperties": {"anyOf": [{"type": "integer"}, {"not": {}}]}},
    {"type": "object", "properties": {"a": {"type": "object", "properties": {"a": {}}}}}
    | {"$defs": {"loop": {"$ref": "#/$defs/loop"}}},
]
BAD_ARGUMENTS = ["not json {", "", "[1, 2]", "null", '"text"', "{'city': 'Paris'}", "{" * 500]
BAD_IMAGES = [
    "data:image/png;base64,!!!not-base64!!!",
    "data:;base64,",
    "data:image/png,rawbytes",
    "data:image/svg+xml;base64,PHN2Zy8+",
    "data:image/png;base64," + "A" * 3,
    "data:",
    "file:///etc/passwd",
    "",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
# Each route's optional parameters, set by the "known" mutation to plausible or odd values.
KNOWN = {
    "chat": [
        "n", "stop", "top_p", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
        "top_logprobs", "seed", "response_format", "user", "parallel_tool_calls",
        "reasoning_effort", "max_completion_tokens", "modalities", "audio", "prediction",
        "service_tier", "store", "metadata", "stream_options", "thinking", "top_k",
        "web_search_options", "safety_settings",
    ],
    "messages": [
        "top_k", "top_p", "stop_sequences", "metadata", "thinking", "tool_choice",
        "service_tier", "container", "mcp_servers",
    ],
    "responses": [
        "text", "reasoning", "tool_choice", "parallel_tool_calls", "previous_response_id",
        "truncation", "include", "metadata", "top_p", "user", "background", "prompt",
        "max_tool_calls", "top_logprobs", "store", "conversation",
    ],
    "embeddings": ["dimensions", "user", "input_type", "encoding_format"],
    "completions": [
        "n", "best_of", "echo", "logprobs", "suffix", "logit_bias", "seed", "stream_options",
        "presence_penalty", "user",
    ],
    "rerank": ["return_documents", "max_chunks_per_doc", "rank_fields", "max_tokens_per_doc"],
}  # fmt: skip
PLAUSIBLE: list[Any] = [
    0,
    1,
    2,
    -1,
    0.5,
    True,
    "high",
    "auto",
    "none",
    ["\n"],
    {"include_usage": True},
    {"type": "json_object"},
    {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}},
    {"format": {"type": "json_schema", "name": "answer", "schema": SCHEMA}},
    {"type": "enabled", "budget_tokens": 1024},
    {"effort": "low", "summary": "auto"},
    {"type": "function", "function": {"name": "get_weather"}},
    {"type": "tool", "name": "get_weather"},
    {"50256": -100},
]
OPS = [
    "known",
    "known",
    "drop",
    "duplicate",
    "retype",
    "number",
    "non_finite",
    "unicode",
    "nest",
    "empty",
    "unknown",
    "odd_schema",
    "bad_arguments",
    "bad_image",
    "stream",
]


def paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def paths_named(body: Body, names: set[str]) -> list[Path_]:
    return [p for p in paths(body) if p and p[-1] in names]


def get(body: Any, path: Path_) -> Any:
    for step in path:
        body = body[step]
    return body


def put(body: Body, path: Path_, value: Any) -> Body:
    value = copy.deepcopy(value)  # the tables' values stay as they are for the next example
    if not path:
        return value if isinstance(value, dict) else {"value": value}
    get(body, path[:-1])[path[-1]] = value
    return body


def strings(value: Any, text: str) -> Any:
    """`value` with `text` added to every string in it, keys included."""
    if isinstance(value, str):
        return value + text
    if isinstance(value, list):
        return [strings(child, text) for child in value]
    if isinstance(value, dict):
        return {strings(k, text): strings(v, text) for k, v in value.items()}
    return value


def pick(draw: Callable[..., Any], options: list[Any]) -> Any:
    return draw(st.sampled_from(options)) if options else None


def mutate(draw: Callable[..., Any], body: Body, route: str) -> Body:
    op = draw(st.sampled_from(OPS))
    note(f"op: {op}")
    inner = [p for p in paths(body) if p]
    lists = [p for p in inner if isinstance(get(body, p[:-1]), list)]
    objects = [p for p in paths(body) if isinstance(get(body, p), dict)]
    if op == "drop" and inner:
        path = pick(draw, inner)
        del get(body, path[:-1])[path[-1]]
    elif op == "duplicate" and lists:
        path = pick(draw, lists)
        get(body, path[:-1]).insert(int(path[-1]), copy.deepcopy(get(body, path)))
    elif op == "unicode":
        odd = draw(st.sampled_from(ODD_TEXT) | st.text(min_size=1, max_size=12))
        path = pick(draw, [(), *inner])
        body = put(body, path, strings(get(body, path), odd))
    elif op == "unknown":
        name = draw(st.sampled_from(["zzz_unknown", "x-extra", "", "__proto__"]))
        body = put(body, (*pick(draw, objects), name), draw(json_values))
    elif op == "known":
        value = draw(st.sampled_from(PLAUSIBLE) | json_values)
        body = put(body, (draw(st.sampled_from(KNOWN[route])),), value)
    elif op == "stream":
        body["stream"] = draw(st.sampled_from([True, "true", 1]))
    elif op in REPLACEMENTS and inner:
        body = put(body, pick(draw, inner), draw(REPLACEMENTS[op]))
    elif op in AIMED:
        names, values = AIMED[op]
        path = pick(draw, paths_named(body, names))
        if path is not None:
            body = put(body, path, draw(st.sampled_from(values)))
    return body


REPLACEMENTS = {
    "retype": json_values,
    "number": st.sampled_from(NUMBERS),
    "non_finite": st.sampled_from(NON_FINITE),
    "nest": st.just(DEEP),
    "empty": st.sampled_from([[], {}, ""]),
}
# Mutations aimed at one kind of field: (the field names, what they become).
AIMED: dict[str, tuple[set[str], list[Any]]] = {
    "odd_schema": ({"parameters", "input_schema"}, ODD_SCHEMAS),
    "bad_arguments": ({"arguments", "input"}, BAD_ARGUMENTS),
    "bad_image": ({"url", "image_url", "data"}, BAD_IMAGES),
}


def encode(draw: Callable[..., Any], body: Body) -> bytes:
    """The body's bytes, with deep nesting where asked, and sometimes a raw fault: a key
    written twice, the body cut short, or bytes that are not UTF-8."""
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    depth = draw(st.sampled_from([70, 300, 2000]))
    text = text.replace(json.dumps(DEEP), "[" * depth + "]" * depth)
    data = text.encode("utf-8", "surrogatepass")
    raw = draw(st.sampled_from([*[None] * 17, "dupkey", "cut", "utf8"]))
    if raw == "dupkey" and body:
        key = json.dumps(draw(st.sampled_from(sorted(body)))).encode()
        data = b"{" + key + b": " + json.dumps(draw(json_values)).encode() + b", " + data[1:]
    elif raw == "cut":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif raw == "utf8":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xff\xfe\xc3" + data[at:]
    return data


# ---- the check -------------------------------------------------------------------------


def check(route: str, response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:2000]
    assert response.headers.get("x-request-id")
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        body = response.json()
        if route == "messages":
            assert body["type"] == "error", body
            assert {"type", "message"} <= set(body["error"]), body
        else:
            assert set(body["error"]) == {"message", "type", "param", "code"}, body
    elif response.headers["content-type"].startswith("text/event-stream"):
        assert response.text.strip(), "an empty stream"
    else:
        assert isinstance(response.json(), dict)


def service_account(token_uri: str) -> str:
    """A Vertex AI service-account key (the simulator does not check its signature)."""
    from gateway.local.google_key import service_account as made

    return json.dumps(made(token_uri, "fuzz@sim.iam.gserviceaccount.com"))


@pytest.fixture
def fuzz_env(
    gateway_env: SimulatorApp,
    response_bucket: ResponseBucket,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[str, bytes], httpx.Response]]:
    """A `post(path, raw body)` on one app instance and one event loop for every example
    (with a response store, so that `store` and `previous_response_id` reach it)."""
    from gateway.http.app import create_app

    sim = gateway_env.state.url
    monkeypatch.setenv("TEST_FUZZ_VERTEX_SA", service_account(f"{sim}/token"))
    entries = [
        {"model_name": name, "litellm_params": {k: v.format(sim=sim) for k, v in params.items()}}
        for name, params in DEPLOYMENTS.items()
    ]
    use_models(tmp_path / "config.yaml", sim, entries, monkeypatch)
    with asyncio.Runner() as runner:
        client = asgi_client(create_app())
        headers = {**bearer(MASTER_KEY), "content-type": "application/json"}

        def post(path: str, data: bytes) -> httpx.Response:
            return runner.run(client.post(path, content=data, headers=headers))

        yield post
        runner.run(client.aclose())
        from gateway.providers import transport

        runner.run(transport.close())


FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize(
    ("route", "stream"), [(r, False) for r in sorted(ROUTES)] + [(r, True) for r in STREAMED]
)
def test_valid_requests_succeed(
    route: str, stream: bool, fuzz_env: Callable[[str, bytes], httpx.Response]
) -> None:
    """The fuzz's starting points are valid on every model: each mutation is the fault."""
    path, models, valid = ROUTES[route]
    for model in models:
        body = {**valid(model), "stream": True} if stream else valid(model)
        response = fuzz_env(path, json.dumps(body).encode())
        assert response.status_code == 200, (model, response.text)
        check(route, response)


# What the fuzz found (500s before): a `type` that is a list or an object, where the schema
# picks a content block's, an input item's or a tool's model by its `type`.
FOUND: list[tuple[str, Body]] = [
    ("messages", {"messages": [{"role": "user", "content": [{"type": [], "text": "hi"}]}]}),
    ("messages", {"messages": [{"role": "user", "content": "hi"}], "tool_choice": {"type": {}}}),
    ("responses", {"input": [{"type": [], "role": "user", "content": "hi"}]}),
    ("responses", {"input": [{"role": "user", "content": [{"type": ["input_text"]}]}]}),
    ("responses", {"input": "hi", "tools": [{"type": {}, "name": "get_weather"}]}),
]


@pytest.mark.parametrize(("route", "fields"), FOUND)
@pytest.mark.parametrize("model", ["fz-anthropic", "fz-openai"])
def test_what_the_fuzz_found_is_a_400(
    route: str, fields: Body, model: str, fuzz_env: Callable[[str, bytes], httpx.Response]
) -> None:
    path, _, valid = ROUTES[route]
    response = fuzz_env(path, json.dumps({**valid(model), **fields}).encode())
    assert response.status_code == 400, response.text
    check(route, response)


@pytest.mark.parametrize(
    ("route", "examples"),
    [
        ("chat", 1200),
        ("messages", 700),
        ("responses", 700),
        ("embeddings", 250),
        ("completions", 250),
        ("rerank", 250),
    ],
)
def test_mutated_requests_never_get_a_5xx(
    route: str, examples: int, fuzz_env: Callable[[str, bytes], httpx.Response]
) -> None:
    path, models, valid = ROUTES[route]

    @settings(FUZZ, max_examples=examples)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        body = copy.deepcopy(valid(data.draw(st.sampled_from(models))))
        for _ in range(data.draw(st.sampled_from([1, 1, 2, 3]))):
            body = mutate(data.draw, body, route)
        raw = encode(data.draw, body)
        note(f"POST {path} {raw[:3000]!r}")
        check(route, fuzz_env(path, raw))

    run()
