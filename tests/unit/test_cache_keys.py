"""The response cache's fingerprint: what must split entries, and what must never."""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.cache.keys import (
    CacheKey,
    defaults_source,
    fingerprint,
    group_defaults,
    sampling_defaults,
)
from gateway.http.body import parse_json, validate_chat
from gateway.providers.spec import Target

if TYPE_CHECKING:
    import random

    from gateway.schemas.openai import ChatCompletionRequest

OPENAI = frozenset({"openai"})
NO_DEFAULTS = frozenset({"bedrock"})

# ---- strategies ------------------------------------------------------------------------

texts = st.text(max_size=12)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)

text_parts = st.fixed_dictionaries({"type": st.just("text"), "text": texts})
contents = texts | st.lists(text_parts, min_size=1, max_size=2)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "developer", "user", "assistant"]), "content": contents}
    ),
    min_size=1,
    max_size=4,
)
tools = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.just("function"),
            "function": st.fixed_dictionaries(
                {"name": names},
                optional={
                    "description": texts,
                    "parameters": json_objects,
                    "strict": st.booleans(),
                },
            ),
        }
    ),
    min_size=1,
    max_size=3,
)
tool_choices = st.sampled_from(["none", "auto", "required"]) | st.fixed_dictionaries(
    {"type": st.just("function"), "function": st.fixed_dictionaries({"name": names})}
)
response_formats = st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object"])}) | (
    st.fixed_dictionaries(
        {
            "type": st.just("json_schema"),
            "json_schema": st.fixed_dictionaries(
                {"name": names}, optional={"schema": json_objects, "strict": st.booleans()}
            ),
        }
    )
)
EXTRA_PARAMS = ("top_k", "min_p", "repetition_penalty", "chat_template_kwargs", "safe_prompt")

# Every field that can change the output, and a strategy for a valid value of it.
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "temperature": st.floats(min_value=0, max_value=2),
    "top_p": st.floats(min_value=0, max_value=1),
    "max_tokens": st.integers(min_value=1, max_value=2**31),
    "max_completion_tokens": st.integers(min_value=1, max_value=2**31),
    "stop": st.lists(texts, min_size=1, max_size=3),
    "seed": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "n": st.integers(min_value=1, max_value=8),
    "tools": tools,
    "tool_choice": tool_choices,
    "parallel_tool_calls": st.booleans(),
    "response_format": response_formats,
    "reasoning_effort": st.sampled_from(["none", "minimal", "low", "medium", "high", "xhigh"]),
    "presence_penalty": st.floats(min_value=-2, max_value=2),
    "frequency_penalty": st.floats(min_value=-2, max_value=2),
    "logit_bias": st.dictionaries(
        st.integers(0, 200_000).map(str), st.integers(-100, 100), min_size=1, max_size=3
    ),
    "logprobs": st.booleans(),
    "top_logprobs": st.integers(0, 20),
    **{name: json_values for name in EXTRA_PARAMS},
}


@st.composite
def request_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"model": draw(names), "messages": draw(messages)}
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)))):
        body[name] = draw(FIELDS[name])
    if draw(st.booleans()):
        body["stop"] = draw(texts)  # the single-string spelling too
    return body


# ---- helpers ---------------------------------------------------------------------------


def validated(raw: bytes) -> ChatCompletionRequest:
    """The gateway's own path from bytes to a request."""
    return validate_chat(parse_json(raw))


def key_of(
    body: dict[str, Any],
    *,
    providers: frozenset[str] = NO_DEFAULTS,
    model_group: str = "group",
    namespace: str = "team:t1",
) -> CacheKey:
    return fingerprint(
        validated(orjson.dumps(body)),
        model_group=model_group,
        providers=providers,
        namespace=namespace,
    )


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "Hi"}], **fields}


def messy_json(value: Any, rnd: random.Random) -> str:
    """JSON with every object's keys shuffled, random whitespace and escaping, 2.0 as 2."""

    def ws() -> str:
        return rnd.choice(["", " ", "\n", "\t", "  ", "\r\n  "])

    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        members = ",".join(
            f"{ws()}{json.dumps(k, ensure_ascii=rnd.random() < 0.5)}{ws()}:{ws()}"
            f"{messy_json(v, rnd)}{ws()}"
            for k, v in items
        )
        return "{" + members + ws() + "}"
    if isinstance(value, list):
        return "[" + ",".join(f"{ws()}{messy_json(v, rnd)}{ws()}" for v in value) + ws() + "]"
    if (
        isinstance(value, float)
        and value.is_integer()
        and abs(value) < 2**53
        and rnd.random() < 0.5
    ):
        return str(int(value))
    return json.dumps(value, ensure_ascii=rnd.random() < 0.5)


def as_list(stop: Any) -> Any:
    return [stop] if isinstance(stop, str) else stop


# ---- properties ------------------------------------------------------------------------

CHANGES = (*sorted(FIELDS), "content", "role_order", "add_message", "model_group", "namespace")


# Parametrized, not drawn: every field gets its own examples, so none goes untested.
@pytest.mark.parametrize("change", CHANGES)
@settings(max_examples=30, deadline=None)
@given(body=request_bodies(), data=st.data())
def test_changing_any_output_field_changes_the_id(
    change: str, body: dict[str, Any], data: st.DataObject
) -> None:
    changed = copy.deepcopy(body)
    group, namespace = "group", "team:t1"
    if change == "content":
        index = data.draw(st.integers(0, len(body["messages"]) - 1))
        new_content = data.draw(contents)
        assume(new_content != body["messages"][index]["content"])
        changed["messages"][index]["content"] = new_content
    elif change == "role_order":
        order = data.draw(st.permutations(body["messages"]))
        assume(order != body["messages"])
        changed["messages"] = order
    elif change == "add_message":
        changed["messages"].append(data.draw(messages)[0])
    elif change == "model_group":
        group = data.draw(names.filter(lambda name: name != "group"))
    elif change == "namespace":
        namespace = data.draw(st.text(min_size=1).filter(lambda ns: ns != "team:t1"))
    else:
        new = data.draw(FIELDS[change])
        if change == "stop":
            assume(new != as_list(body.get("stop")))
        elif change in ("max_tokens", "max_completion_tokens"):
            # The two spellings are one limit: equal to the other one, nothing changes.
            assume(new not in (body.get("max_tokens"), body.get("max_completion_tokens")))
        else:
            assume(new != body.get(change))  # Python's == is canonical's, 1 == 1.0 included
        changed[change] = new
    before = key_of(body)
    after = key_of(changed, model_group=group, namespace=namespace)
    assert after.id != before.id


@settings(max_examples=200, deadline=None)
@given(body=request_bodies(), rnd=st.randoms(use_true_random=False))
def test_key_order_whitespace_and_number_spelling_never_matter(
    body: dict[str, Any], rnd: random.Random
) -> None:
    messy = messy_json(body, rnd).encode()
    for providers in (OPENAI, NO_DEFAULTS):
        assert key_of(body, providers=providers) == fingerprint(
            validated(messy), model_group="group", providers=providers, namespace="team:t1"
        )


@given(
    body=request_bodies(),
    stream=st.booleans(),
    stream_options=st.fixed_dictionaries({}, optional={"include_usage": st.booleans()}),
    user=texts,
    metadata=json_objects,
    cache=st.fixed_dictionaries(
        {}, optional={"no-cache": st.booleans(), "ttl": st.integers(0, 86_400)}
    ),
)
def test_framing_identity_and_cache_controls_do_not_change_the_id(
    body: dict[str, Any],
    stream: bool,
    stream_options: dict[str, Any],
    user: str,
    metadata: dict[str, Any],
    cache: dict[str, Any],
) -> None:
    framed = {
        **body,
        "stream": stream,
        "stream_options": stream_options,
        "user": user,
        "metadata": metadata,
        "cache": cache,
        "model": body["model"] + "-alias",  # the group is what counts, not the client's name
    }
    assert key_of(framed).id == key_of(body).id


@given(body=request_bodies(), namespace=st.text(min_size=1))
def test_the_id_is_sha256_hex_and_the_object_key_never_shows_the_namespace(
    body: dict[str, Any], namespace: str
) -> None:
    key = key_of(body, namespace=namespace)
    assert re.fullmatch("[0-9a-f]{64}", key.id)
    assert re.fullmatch(f"v1/[0-9a-f]{{32}}/{key.id}", key.object_key)
    assert key.namespace == namespace
    # The object key is hex, slashes and "v": a namespace outside that alphabet cannot show.
    assume(not set(namespace) <= set("0123456789abcdefv/"))
    assert namespace not in key.object_key


# ---- equivalences, one by one ------------------------------------------------------------


def test_both_spellings_of_the_output_limit_share_an_id() -> None:
    assert key_of(chat(max_tokens=64)) == key_of(chat(max_completion_tokens=64))
    assert key_of(chat(max_tokens=64)) == key_of(chat(max_tokens=64, max_completion_tokens=64))
    both = key_of(chat(max_tokens=32, max_completion_tokens=64))  # an OpenAI upstream gets both
    assert both != key_of(chat(max_completion_tokens=64))
    assert both != key_of(chat(max_tokens=32))
    assert both != key_of(chat(max_tokens=64, max_completion_tokens=32))


def test_a_stop_string_is_a_one_element_list() -> None:
    assert key_of(chat(stop="x")) == key_of(chat(stop=["x"]))
    assert key_of(chat(stop="x")) != key_of(chat(stop=["x", "y"]))


def test_a_client_field_cannot_pose_as_a_derived_value() -> None:
    assert key_of(chat(output_limit=64)) != key_of(chat(max_tokens=64))


@pytest.mark.parametrize(
    ("one", "one_point_oh"),
    [
        (b'"temperature": 1', b'"temperature": 1.0'),
        (b'"top_k": 1', b'"top_k": 1.0'),
        (b'"chat_template_kwargs": {"a": [2]}', b'"chat_template_kwargs": {"a": [2.0]}'),
        (
            b'"response_format": {"type": "json_schema", "json_schema": {"name": "n", '
            b'"schema": {"type": "integer", "minimum": 1}}}',
            b'"response_format": {"type": "json_schema", "json_schema": {"name": "n", '
            b'"schema": {"type": "integer", "minimum": 1.0}}}',
        ),
    ],
)
def test_one_and_one_point_oh_share_an_id(one: bytes, one_point_oh: bytes) -> None:
    def key(field: bytes) -> CacheKey:
        raw = b'{"model": "m", "messages": [{"role": "user", "content": "Hi"}], ' + field + b"}"
        return fingerprint(validated(raw), model_group="g", providers=OPENAI, namespace="global")

    assert key(one) == key(one_point_oh)


def test_booleans_are_not_numbers() -> None:
    assert key_of(chat(top_k=1)) != key_of(chat(top_k=True))


# ---- defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("providers", "shared"),
    [
        ({"openai"}, True),
        ({"anthropic"}, True),
        ({"openai", "anthropic"}, True),
        ({"openai", "bedrock"}, False),
        ({"bedrock"}, False),
        ({"groq"}, False),  # an OpenAI-compatible vendor: its defaults vary by model
        (set(), False),
    ],
)
def test_temperature_one_and_omitted_share_only_where_every_provider_says_so(
    providers: set[str], shared: bool
) -> None:
    group = frozenset(providers)
    assert (key_of(chat(temperature=1), providers=group) == key_of(chat(), providers=group)) is (
        shared
    )


@pytest.mark.parametrize(("name", "value"), sorted(sampling_defaults("openai").items()))
def test_every_openai_default_made_explicit_shares_the_omitted_id(name: str, value: Any) -> None:
    assert key_of(chat(**{name: value}), providers=OPENAI) == key_of(chat(), providers=OPENAI)
    assert key_of(chat(**{name: value}), providers=NO_DEFAULTS) != key_of(chat())


def test_a_default_two_providers_do_not_share_is_not_filled() -> None:
    group = frozenset({"openai", "anthropic"})
    assert group_defaults(group) == {"temperature": 1}
    assert key_of(chat(top_p=1), providers=group) != key_of(chat(), providers=group)


def test_a_non_default_value_never_collides_with_omitted() -> None:
    for providers in (OPENAI, frozenset({"anthropic"}), NO_DEFAULTS):
        assert key_of(chat(temperature=0.5), providers=providers) != key_of(
            chat(), providers=providers
        )


def target(provider: str, api_base: str) -> Target:
    return Target(model_name="g", provider=provider, dialect="openai", model="m", api_base=api_base)


@pytest.mark.parametrize(
    ("provider", "api_base", "source"),
    [
        ("openai", "https://api.openai.com/v1", "openai"),
        ("openai", "https://api.openai.com/v1/", "openai"),
        ("anthropic", "https://api.anthropic.com/v1", "anthropic"),
        ("bedrock", "", "bedrock"),
        ("openai", "http://vllm.internal:8000/v1", "openai:custom-endpoint"),
        ("groq", "https://api.groq.com/openai/v1", "groq"),
        ("unknown", "https://x.example", "unknown:custom-endpoint"),
    ],
)
def test_defaults_source_trusts_a_provider_only_at_its_own_host(
    provider: str, api_base: str, source: str
) -> None:
    assert defaults_source(target(provider, api_base)) == source


def test_an_openai_row_on_a_compatible_server_gets_no_defaults() -> None:
    vllm = frozenset({defaults_source(target("openai", "http://vllm.internal:8000/v1"))})
    assert key_of(chat(temperature=1), providers=vllm) != key_of(chat(), providers=vllm)
