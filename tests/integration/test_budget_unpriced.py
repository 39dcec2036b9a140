"""Unpriced models and budgets: a model with no known price (no model_info prices, no
genai-prices entry) runs free, so a caller with a budget (its key's, team's or user's)
is refused it (403 `unpriced_model`) before anything is reserved or sent, unless the
config sets general_settings.allow_unpriced_models_with_budgets. Prices of 0 set in
model_info are a price (LiteLLM's free models)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from conftest import OPENAI_KEY, write_config
from keys import asgi_client, bearer, chat, make_key, make_team
from spend_helpers import spend_queue

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

BUDGET = 1_000_000  # $1


def deployment(name: str, sim_url: str, **info: Any) -> dict[str, Any]:
    params = {"model": "hosted_vllm/private-model-xyz", "api_base": f"{sim_url}/v1"}
    entry = {"model_name": name, "litellm_params": {**params, "api_key": OPENAI_KEY}}
    return {**entry, "model_info": info} if info else entry


def configure(
    tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch, *, allow: bool | None = None
) -> None:
    """The suite's models plus `unpriced`, `free` (model_info prices of 0) and `guarded`
    (priced, falling back to `unpriced`)."""
    from gateway.http import dependencies

    path = write_config(tmp_path / "config.json", sim_url)
    config = json.loads(path.read_text())
    config["model_list"] += [
        deployment("unpriced", sim_url),
        deployment("free", sim_url, input_cost_per_token=0, output_cost_per_token=0),
        deployment("guarded", sim_url, input_cost_per_token=1e-6, output_cost_per_token=1e-6),
    ]
    config["router_settings"]["fallbacks"] = [{"guarded": ["unpriced"]}]
    if allow is not None:
        config["general_settings"] = {"allow_unpriced_models_with_budgets": allow}
    path.write_text(json.dumps(config))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    dependencies.reset()


@pytest.fixture
def env(
    gateway_env: SimulatorApp,
    gateway_table: GatewayTable,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> GatewayTable:
    configure(tmp_path, gateway_env.state.url, monkeypatch)
    spend_queue(gateway_table, monkeypatch)
    return gateway_table


async def ask(key: str, model: str, **extra: Any) -> Any:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        return await client.post(
            "/v1/chat/completions", headers=bearer(key), json=chat(model, "hi", **extra)
        )


def assert_unpriced(response: Any) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "permission_error",
        "unpriced_model",
        "model",
    )
    assert "no known price" in error["message"]
    assert "allow_unpriced_models_with_budgets" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_budgeted_key_is_refused_an_unpriced_model(
    env: GatewayTable, gateway_env: SimulatorApp, stream: bool
) -> None:
    key = make_key(env, max_budget_micros=BUDGET, budget_duration="30d")
    before = len(gateway_env.requests)
    assert_unpriced(await ask(key, "unpriced", stream=stream, max_tokens=10))
    assert len(gateway_env.requests) == before  # refused before the provider


async def test_a_team_budget_refuses_it_too(env: GatewayTable) -> None:
    make_team(env, "t-unpriced", max_budget_micros=BUDGET)
    assert_unpriced(await ask(make_key(env, team_id="t-unpriced"), "unpriced", max_tokens=10))


async def test_a_fallback_to_an_unpriced_model_is_refused_with_a_budget(env: GatewayTable) -> None:
    key = make_key(env, max_budget_micros=BUDGET)
    response = await ask(key, "guarded", max_tokens=10)
    assert_unpriced(response)
    assert "'unpriced'" in response.json()["error"]["message"]


async def test_without_a_budget_an_unpriced_model_runs_free(env: GatewayTable) -> None:
    response = await ask(make_key(env), "unpriced")
    assert response.status_code == 200, response.text
    assert "x-gateway-cost-usd" not in response.headers


async def test_model_info_prices_of_zero_are_a_price(env: GatewayTable) -> None:
    key = make_key(env, max_budget_micros=BUDGET)
    response = await ask(key, "free", max_tokens=10)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-cost-usd"] == "0.000000"


async def test_the_operator_may_allow_unpriced_models_with_budgets(
    env: GatewayTable, gateway_env: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(tmp_path, gateway_env.state.url, monkeypatch, allow=True)
    key = make_key(env, max_budget_micros=BUDGET)
    for model in ("unpriced", "guarded"):
        response = await ask(key, model, max_tokens=10)
        assert response.status_code == 200, response.text


async def test_the_setting_must_be_true_to_allow(
    env: GatewayTable, gateway_env: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(tmp_path, gateway_env.state.url, monkeypatch, allow=False)
    assert_unpriced(await ask(make_key(env, max_budget_micros=BUDGET), "unpriced", max_tokens=10))
