"""In AWS the master key and provider keys come from Secrets Manager (moto here)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest
from moto import mock_aws

from gateway.http import dependencies

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from gateway.local.simulator import SimulatorApp


@pytest.fixture
def secrets_env(
    sim: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        master = client.create_secret(Name="master", SecretString="sk-from-secrets-manager")
        providers = client.create_secret(
            Name="providers", SecretString=json.dumps({"SIM_OPENAI_KEY": "sk-provider-secret"})
        )
        config = tmp_path / "config.yaml"
        config.write_text(
            json.dumps(
                {
                    "model_list": [
                        {
                            "model_name": "m",
                            "litellm_params": {
                                "model": "openai/gpt-4o-mini",
                                "api_base": f"{sim.state.url}/v1",
                                "api_key": "os.environ/SIM_OPENAI_KEY",
                            },
                        }
                    ]
                }
            )
        )
        monkeypatch.delenv("GATEWAY_MASTER_KEY", raising=False)
        monkeypatch.setenv("GATEWAY_CONFIG", str(config))
        monkeypatch.setenv("GATEWAY_MASTER_KEY_SECRET_ARN", master["ARN"])
        monkeypatch.setenv("GATEWAY_PROVIDER_SECRETS_ARN", providers["ARN"])
        dependencies.reset()
        yield {"master": "sk-from-secrets-manager"}
        dependencies.reset()


def test_keys_come_from_secrets_manager(secrets_env: dict[str, str], sim: SimulatorApp) -> None:
    from gateway.http.app import create_app

    async def run() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            ok = await client.post(
                "/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {secrets_env['master']}"},
            )
            denied = await client.post(
                "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-other"}
            )
            return ok, denied

    import anyio

    ok, denied = anyio.run(run)
    assert ok.status_code == 200, ok.text
    assert denied.status_code == 401
    assert sim.requests[-1]["headers"]["authorization"] == "Bearer sk-provider-secret"


def test_secrets_manager_outage_is_503_not_401(
    secrets_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.http.app import create_app

    monkeypatch.setenv(
        "GATEWAY_MASTER_KEY_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing",
    )
    dependencies.reset()

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return await client.get(
                "/v1/models", headers={"authorization": f"Bearer {secrets_env['master']}"}
            )

    import anyio

    response = anyio.run(run)
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json()["error"]["type"] == "service_unavailable_error"
