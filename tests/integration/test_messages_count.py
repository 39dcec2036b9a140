"""count_tokens when the provider cannot count: the gateway's estimate, said so."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from conftest import MASTER_KEY
from keys import asgi_client, bearer

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("fault", ["400", "500", "429"])
@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
async def test_a_count_the_provider_refuses_is_estimated(
    sim: SimulatorApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    provider: str,
) -> None:
    from gateway.http import dependencies
    from gateway.http.app import create_app

    model = {
        "anthropic": "anthropic/claude-3-5-haiku-20241022",
        "bedrock": "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0",
    }[provider]
    entry = {
        "model_name": "claude",
        "litellm_params": {
            "model": model,
            "api_base": f"{sim.state.url}/_fault/{fault}",
            "api_key": "sk-ant-test" if provider == "anthropic" else None,
            "aws_region_name": "us-east-1",
        },
    }
    config = tmp_path / "count.yaml"
    config.write_text(json.dumps({"model_list": [entry]}))
    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    monkeypatch.setenv("GATEWAY_MASTER_KEY", MASTER_KEY)
    dependencies.reset()
    body = {"model": "claude", "messages": [{"role": "user", "content": "x" * 400}]}
    async with asgi_client(create_app()) as client:
        response = await client.post(
            "/v1/messages/count_tokens", json=body, headers=bearer(MASTER_KEY)
        )
    dependencies.reset()
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-token-count"] == "estimated"
    assert response.json() == {"input_tokens": 100}  # 400 bytes of text / 4
    assert len(sim.requests) == 1  # the provider was asked first
