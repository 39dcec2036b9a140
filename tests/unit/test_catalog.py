"""The provider catalog as data: every row is usable, and the openai dialect reads each
OpenAI-compatible vendor's quirks from its row (the end-to-end check of every row against
the simulator is tests/integration/test_catalog_vendors.py)."""

from __future__ import annotations

import importlib.util
import re
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.providers import openai
from gateway.providers.catalog import CATALOG
from gateway.providers.spec import Target
from gateway.schemas.openai import ChatCompletionRequest

COMPATIBLE = sorted(name for name, row in CATALOG.items() if row.dialect == "openai")
# Local servers default to the address their documentation gives.
LOCAL = {
    "ollama": "http://localhost:11434/v1",
    "ollama_chat": "http://localhost:11434/v1",
    "lm_studio": "http://localhost:1234/v1",
    "llamafile": "http://127.0.0.1:8080/v1",
    "llamacpp": "http://127.0.0.1:8080/v1",
    "sglang": "http://127.0.0.1:30000/v1",
    "docker_model_runner": "http://localhost:12434/engines/v1",
}


def test_at_least_sixty_vendors_speak_openai() -> None:
    assert len(COMPATIBLE) >= 60


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_a_row_has_a_usable_base_and_dialect(name: str) -> None:
    row = CATALOG[name]
    assert importlib.util.find_spec(f"gateway.providers.{row.dialect}") is not None
    if name in LOCAL:
        assert row.api_base == LOCAL[name]
    elif row.api_base:  # else required in the config (self-hosted, per-account)
        parts = urlsplit(row.api_base)
        assert parts.scheme == "https", row.api_base
        assert parts.netloc, row.api_base
        assert not parts.query, row.api_base
        assert not row.api_base.endswith(("/", "/chat/completions")), row.api_base


def test_only_the_listed_local_servers_default_to_plain_http() -> None:
    plain = {name for name, row in CATALOG.items() if row.api_base.startswith("http://")}
    assert plain == set(LOCAL)


@pytest.mark.parametrize("name", COMPATIBLE)
def test_a_compatible_row_states_only_known_quirks(name: str) -> None:
    row = CATALOG[name]
    assert row.max_tokens_field in ("", "max_tokens")
    assert re.fullmatch(r"[a-z][a-z0-9-]*", row.auth_header), row.auth_header
    assert row.auth_scheme in ("Bearer", "")
    assert row.key_env is None or re.fullmatch(r"[A-Z][A-Z0-9_]*", row.key_env)


def test_a_key_variable_is_shared_only_by_rows_of_one_vendor() -> None:
    hosts: dict[str, set[str]] = defaultdict(set)
    for row in CATALOG.values():
        if row.key_env is not None:
            hosts[row.key_env].add(urlsplit(row.api_base).netloc)
    assert {env: found for env, found in hosts.items() if len(found) > 1} == {}


def build(name: str, key: str | None = "sk-key", **body: Any) -> Any:
    request = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **body}
    )
    target = Target("m", name, "openai", "upstream-model", "https://vendor.example/v1", key)
    return openai.build_request(request, target)


@pytest.mark.parametrize("stream", [False, True])
def test_openai_itself_gets_the_request_as_sent(stream: bool) -> None:
    sent = build("openai", stream=stream, max_completion_tokens=9, max_tokens=7)
    assert (sent.body["max_completion_tokens"], sent.body["max_tokens"]) == (9, 7)
    assert ("stream_options" in sent.body) is stream
    assert sent.headers["authorization"] == "Bearer sk-key"


def test_a_vendor_that_refuses_stream_options_gets_none() -> None:
    sent = build("mistral", stream=True, stream_options={"include_usage": True})
    assert "stream_options" not in sent.body
    assert build("groq", stream=True).body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
def test_max_completion_tokens_goes_as_max_tokens_where_only_that_is_taken(stream: bool) -> None:
    sent = build("moonshot", stream=stream, max_completion_tokens=9)
    assert sent.body["max_tokens"] == 9
    assert "max_completion_tokens" not in sent.body
    assert build("moonshot", max_tokens=5).body["max_tokens"] == 5


def test_the_key_goes_in_the_vendors_own_header() -> None:
    sent = build("sarvam")
    assert sent.headers["api-subscription-key"] == "sk-key"
    assert "authorization" not in sent.headers


def test_a_local_server_without_a_key_gets_no_auth_header() -> None:
    assert "authorization" not in build("ollama", key=None).headers


def test_a_provider_outside_the_catalog_gets_openais_behaviour() -> None:
    sent = build("someone-else", stream=True, max_completion_tokens=3)
    assert sent.body["max_completion_tokens"] == 3
    assert sent.body["stream_options"] == {"include_usage": True}
