"""`make dev` end to end: the stack process, then the official SDK against every local model,
and a virtual key made through the admin API (served on the same port, as `make dev` does)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest
import yaml

from servers import ROOT, local_stack

if TYPE_CHECKING:
    from collections.abc import Iterator
ENTRIES = yaml.safe_load((ROOT / "shared/gateway/local/config.yaml").read_text())["model_list"]


def _mode(entry: dict[str, Any]) -> str:
    from gateway.endpoints import mode_of

    model = entry["litellm_params"]["model"].partition("/")[2]
    return mode_of(model, (entry.get("model_info") or {}).get("mode"))


LOCAL_MODELS = [entry["model_name"] for entry in ENTRIES if _mode(entry) == "chat"]
OTHER_MODELS = [(entry["model_name"], _mode(entry)) for entry in ENTRIES if _mode(entry) != "chat"]


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[str, str]]:
    with local_stack() as running:
        assert running.base_url.startswith("http://127.0.0.1:")
        # provision.py made the template's bucket in the emulation and stack.py points at it.
        assert re.search(r"cache:\s+responsecachebucket\n", running.banner), running.banner
        yield running.base_url, running.master_key


@pytest.mark.parametrize("model", LOCAL_MODELS)
def test_quick_start_works_for_every_local_model(stack: tuple[str, str], model: str) -> None:
    base, key = stack
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Hello"}]
    )
    assert reply.choices[0].message.content == "Echo: Hello"
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: Hello"
    assert chunks[-1].usage is not None


@pytest.mark.parametrize(("model", "mode"), OTHER_MODELS)
def test_the_other_endpoints_work_for_their_local_models(
    stack: tuple[str, str], model: str, mode: str
) -> None:
    base, key = stack
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    if mode == "embedding":
        vectors = client.embeddings.create(model=model, input=["Hello", "world"])
        assert [len(d.embedding) > 0 for d in vectors.data] == [True, True]
    elif mode == "completion":
        text = client.completions.create(model=model, prompt="Hello", max_tokens=20)
        assert text.choices[0].text == "Echo: Hello"
    else:
        assert mode == "rerank"
        body = {"model": model, "query": "hello", "documents": ["bye", "hello there"]}
        ranked = httpx.post(
            f"{base}/rerank", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        assert ranked.status_code == 200, ranked.text
        assert [r["index"] for r in ranked.json()["results"]] == [1, 0]


def test_the_master_key_comes_from_the_emulated_secret(stack: tuple[str, str]) -> None:
    base, key = stack
    assert key.startswith("sk-local-")
    bad = openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_a_generated_key_serves_its_models_and_not_the_admin_api(stack: tuple[str, str]) -> None:
    base, master = stack
    root = base.removesuffix("/v1")  # LiteLLM's admin routes live at the root, not under /v1
    made = httpx.post(
        f"{root}/key/generate",
        headers={"Authorization": f"Bearer {master}"},
        json={"models": ["gpt-4o-mini"]},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    key = made.json()["key"]
    assert key.startswith("sk-gw-")

    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
    )
    assert reply.choices[0].message.content == "Echo: Hello"
    with pytest.raises(openai.PermissionDeniedError):  # outside the key's model list
        client.chat.completions.create(
            model="claude-3-5-haiku", messages=[{"role": "user", "content": "Hello"}]
        )

    refused = httpx.post(
        f"{root}/key/generate",
        headers={"Authorization": f"Bearer {key}"},
        json={"models": []},
        timeout=10,
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["type"] == "permission_error"
