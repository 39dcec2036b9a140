"""Every OpenAI-compatible catalog row, end to end: a deployment `<row>/some-model` on the
simulator speaking as that row's vendor (`/_vendor/{row}/v1`, which refuses what the
vendor refuses: gateway/local/simulator/vendor_quirks.py), one plain and one streamed
chat through the gateway, and what reached the vendor honours the row's quirks.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conftest import MASTER_KEY, use_models
from gateway.providers.catalog import CATALOG
from keys import asgi_client, bearer, chat

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.local.simulator import SimulatorApp
    from gateway.providers.catalog import ProviderRow

pytestmark = pytest.mark.anyio

ROWS = sorted(name for name, row in CATALOG.items() if row.dialect == "openai")
VENDOR_KEY = "sk-vendor-0123456789abcdef"
PROMPT = "hello there vendor"


def entry(name: str, sim_url: str) -> dict[str, Any]:
    params = {"model": f"{name}/some-model", "api_base": f"{sim_url}/_vendor/{name}/v1"}
    if CATALOG[name].key_env is not None:
        params["api_key"] = VENDOR_KEY
    return {"model_name": "vendor", "litellm_params": params}


def stream_events(text: str) -> list[Any]:
    """The data of each SSE event (comments dropped), `[DONE]` as a string."""
    events: list[Any] = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block.removeprefix("data: ")
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def assert_auth(headers: dict[str, str], row: ProviderRow) -> None:
    if row.key_env is None:  # a local server, configured without a key: none is sent
        assert "authorization" not in headers
        return
    scheme = f"{row.auth_scheme} " if row.auth_scheme else ""
    assert headers[row.auth_header] == f"{scheme}{VENDOR_KEY}"
    if row.auth_header != "authorization":
        assert "authorization" not in headers


def assert_limit(body: dict[str, Any], row: ProviderRow) -> None:
    if row.max_tokens_field == "max_tokens":
        assert body["max_tokens"] == 50
        assert "max_completion_tokens" not in body
    else:
        assert body["max_completion_tokens"] == 50


@pytest.mark.parametrize("name", ROWS)
async def test_a_vendor_row_is_spoken_as_its_vendor_speaks(
    name: str, gateway_env: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.http.app import create_app

    sim, row = gateway_env, CATALOG[name]
    use_models(tmp_path / "config.json", sim.state.url, [entry(name, sim.state.url)], monkeypatch)
    limit = {"max_completion_tokens": 50}
    async with asgi_client(create_app()) as client:
        plain = await client.post(
            "/v1/chat/completions", headers=bearer(MASTER_KEY), json=chat("vendor", PROMPT, **limit)
        )
        streamed = await client.post(
            "/v1/chat/completions",
            headers=bearer(MASTER_KEY),
            json=chat(
                "vendor", PROMPT, stream=True, stream_options={"include_usage": True}, **limit
            ),
        )

    assert plain.status_code == 200, plain.text
    answer = plain.json()
    assert answer["choices"][0]["message"]["content"] == f"Echo: {PROMPT}"
    assert answer["usage"]["completion_tokens"] > 0
    assert streamed.status_code == 200, streamed.text
    events = stream_events(streamed.text)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events[:-1] if e["choices"]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == f"Echo: {PROMPT}"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    usage = events[-2]["usage"]  # asked for: reported by the vendor or estimated
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0

    sent_plain, sent_stream = sim.requests[-2:]
    for sent in (sent_plain, sent_stream):
        assert sent["path"] == f"/_vendor/{name}/v1/chat/completions"
        assert sent["json"]["model"] == "some-model"
        assert_auth(sent["headers"], row)
        assert_limit(sent["json"], row)
    assert ("stream_options" in sent_stream["json"]) is row.stream_usage


# ---- the simulator's strictness itself ---------------------------------------------


def vendor_post(base: str, name: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    url = f"{base}/_vendor/{name}/v1/chat/completions"
    return httpx.post(url, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("name", "extra", "param"),
    [
        ("mistral", {"stream": True, "stream_options": {"include_usage": True}}, "stream_options"),
        ("mistral", {"max_completion_tokens": 5}, "max_completion_tokens"),
        ("moonshot", {"max_completion_tokens": 5}, "max_completion_tokens"),
        ("cohere", {"stream": True, "stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_the_simulated_vendor_refuses_what_its_vendor_refuses(
    base: str, name: str, extra: dict[str, Any], param: str
) -> None:
    response = vendor_post(
        base, name, chat("m", "hi", **extra), authorization=f"Bearer {VENDOR_KEY}"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, "unsupported_parameter")


def test_the_simulated_vendor_reads_the_key_where_its_vendor_does(base: str) -> None:
    body, bearer_key = chat("m", "hi"), {"authorization": f"Bearer {VENDOR_KEY}"}
    assert vendor_post(base, "sarvam", body, **bearer_key).status_code == 401
    assert vendor_post(base, "sarvam", body, **{"api-subscription-key": VENDOR_KEY}).is_success
    assert vendor_post(base, "groq", body).status_code == 401
    assert vendor_post(base, "ollama", body).is_success  # a local server: no key
    assert vendor_post(base, "no_such_row", body).status_code == 404


def test_mistral_reports_stream_usage_unasked_and_cohere_does_not(base: str) -> None:
    body = chat("m", "hi", stream=True)
    key = {"authorization": f"Bearer {VENDOR_KEY}"}
    mistral = stream_events(vendor_post(base, "mistral", body, **key).text)
    cohere = stream_events(vendor_post(base, "cohere", body, **key).text)
    assert mistral[-2]["choices"][0]["finish_reason"] == "stop"
    assert mistral[-2]["usage"]["completion_tokens"] > 0
    assert all("usage" not in e for e in cohere[:-1])
