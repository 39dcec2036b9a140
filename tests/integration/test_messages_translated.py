"""The Messages API through chat on a model that reasons (Nova 2 on Bedrock Converse):
thinking comes back as thinking blocks, beside tool calls, streamed or not; the pieces
LiteLLM's adapter is known to lose (reasoning with tools, tool input in streams, streamed
usage) all arrive."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anthropic
import pytest

from conftest import MASTER_KEY
from servers import serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from gateway.local.simulator import SimulatorApp

WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
}


@pytest.fixture
def client(
    sim: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[anthropic.Anthropic]:
    from gateway.http import dependencies
    from gateway.http.app import create_app

    entry = {
        "model_name": "nova-2",
        "litellm_params": {
            "model": "bedrock/us.amazon.nova-2-lite-v1:0",
            "api_base": sim.state.url,
            "aws_region_name": "us-east-1",
        },
    }
    config = tmp_path / "nova.yaml"
    config.write_text(json.dumps({"model_list": [entry], "router_settings": {"num_retries": 0}}))
    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    monkeypatch.setenv("GATEWAY_MASTER_KEY", MASTER_KEY)
    dependencies.reset()
    with serve(create_app()) as url:
        yield anthropic.Anthropic(base_url=url, api_key=MASTER_KEY, max_retries=0)
    dependencies.reset()


def ask(client: anthropic.Anthropic, *, stream: bool) -> anthropic.types.Message:
    options: Any = {
        "model": "nova-2",
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "[sim-chunks:9] what is the weather in Paris?"}],
    }
    if not stream:
        return client.messages.create(**options)
    with client.messages.stream(**options) as events:
        return events.get_final_message()


def test_reasoning_and_tool_calls_survive_translation(
    client: anthropic.Anthropic, sim: SimulatorApp
) -> None:
    plain = ask(client, stream=False)
    streamed = ask(client, stream=True)
    sent = sim.requests[0]["json"]["additionalModelRequestFields"]
    assert sent == {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "medium"}}
    for message in (plain, streamed):
        kinds = [block.type for block in message.content]
        assert kinds == ["thinking", "tool_use"], kinds
        assert message.stop_reason == "tool_use"
        assert message.usage.input_tokens > 0
        assert message.usage.output_tokens > 0
    assert streamed.content[0].thinking == plain.content[0].thinking != ""
    assert streamed.content[1].input == plain.content[1].input == {"location": "Paris"}
    assert streamed.usage.input_tokens == plain.usage.input_tokens
    assert streamed.usage.output_tokens == plain.usage.output_tokens
