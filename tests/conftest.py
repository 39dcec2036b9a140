"""Suite-wide guards: no connection leaves the machine, and no real AWS is reachable."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from servers import serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import httpx
    import openai

    from gateway.local.emulation import Emulation
    from gateway.local.simulator import SimulatorApp


@dataclass
class GatewayTable:
    name: str
    client: Any  # boto3 DynamoDB client on the emulation, for arranging and inspecting
    emulation: Emulation

    def items(self) -> list[dict[str, Any]]:
        from gateway.store.dynamo import decode_item

        pages = self.client.get_paginator("scan").paginate(TableName=self.name)
        return [decode_item(item) for page in pages for item in page["Items"]]


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else None
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _guarded(original):  # type: ignore[no-untyped-def]
    def connect(self, address):  # type: ignore[no-untyped-def]
        if not _is_loopback(address):
            raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed")
        return original(self, address)

    return connect


socket.socket.connect = _guarded(_connect)  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded(_connect_ex)  # type: ignore[method-assign]

# Fake credentials, so nothing can sign for a real account.
for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[name] = value
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "GATEWAY_CONFIG", "GATEWAY_MASTER_KEY"):
    os.environ.pop(name, None)
# Each request's EMF line (gateway/telemetry/metrics.py) is noise here; the telemetry
# tests turn it back on.
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"


# ---- the gateway against the provider simulator --------------------------------------

MASTER_KEY = "sk-test-master"
OPENAI_KEY = "sk-sim-openai-canary-0123456789"
ANTHROPIC_KEY = "sk-ant-sim-canary-0123456789"


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorApp]:
    """The provider simulator app (faults set on it directly), served on 127.0.0.1."""
    from gateway.local.simulator import create_app

    app = create_app()
    with serve(app) as url:
        app.state.url = url
        yield app


@pytest.fixture
def sim(simulator: SimulatorApp) -> Iterator[SimulatorApp]:
    stall = simulator.sim.stall_seconds  # tests shorten or lengthen it; it outlives reset()
    simulator.reset()
    yield simulator
    simulator.reset()
    simulator.sim.stall_seconds = stall


# The simulator's own tests: its base URL, a plain client and an OpenAI SDK. A module
# that serves its own simulator overrides `base`; `http` and `oai` follow it.
SIM_OPENAI_KEY = "sk-sim-openai-0123456789abcdef"  # any bearer key passes the simulator


@pytest.fixture
def base(sim: SimulatorApp) -> str:
    url: str = sim.state.url
    return url


@pytest.fixture
def http(base: str) -> Iterator[httpx.Client]:
    import httpx

    with httpx.Client(base_url=base, timeout=10) as client:
        yield client


@pytest.fixture
def oai(base: str) -> openai.OpenAI:
    import openai

    return openai.OpenAI(base_url=f"{base}/v1", api_key=SIM_OPENAI_KEY, max_retries=0)


def write_config(path: Path, sim_url: str) -> Path:
    config: dict[str, Any] = {
        # One attempt per request: these tests check how each answer is mapped; the
        # router's retries and fallbacks have tests of their own (test_router_*.py).
        "router_settings": {"num_retries": 0},
        "model_list": [
            {
                "model_name": "gpt-4o-mini",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": f"{sim_url}/v1",
                    "api_key": OPENAI_KEY,
                },
            },
            {
                "model_name": "claude-3-5-haiku",
                "litellm_params": {
                    "model": "anthropic/claude-3-5-haiku-20241022",
                    "api_base": sim_url,
                    "api_key": "os.environ/TEST_ANTHROPIC_KEY",
                },
            },
            {
                "model_name": "bedrock-claude",
                "litellm_params": {
                    "model": "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0",
                    "api_base": sim_url,
                    "aws_region_name": "us-east-1",
                },
            },
            {
                "model_name": "one-second",
                "litellm_params": {
                    "model": "anthropic/claude-3-5-haiku-20241022",
                    "api_base": sim_url,
                    "api_key": ANTHROPIC_KEY,
                    "timeout": 1,
                },
            },
            {
                "model_name": "priced",
                "litellm_params": {
                    "model": "openai/my-private-model",
                    "api_base": f"{sim_url}/v1",
                    "api_key": OPENAI_KEY,
                },
                "model_info": {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002},
            },
        ],
    }
    path.write_text(json.dumps(config))
    return path


def use_models(
    path: Path, sim_url: str, entries: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_config's models plus `entries`, as the gateway's config from now on."""
    from gateway.http import dependencies

    write_config(path, sim_url)
    config = json.loads(path.read_text())
    config["model_list"] += entries
    path.write_text(json.dumps(config))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    dependencies.reset()


@pytest.fixture
def gateway_env(
    sim: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimulatorApp]:
    """Environment for a gateway whose models all point at the simulator."""
    from gateway.http import dependencies

    config = write_config(tmp_path / "config.yaml", sim.state.url)
    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    monkeypatch.setenv("GATEWAY_MASTER_KEY", MASTER_KEY)
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", ANTHROPIC_KEY)
    dependencies.reset()
    yield sim
    dependencies.reset()


@pytest.fixture
def gateway_url(gateway_env: SimulatorApp) -> Iterator[str]:
    """The gateway app under uvicorn on 127.0.0.1 (lifespan on, as in Lambda)."""
    from gateway.http.app import create_app

    with serve(create_app()) as url:
        yield url


# ---- DynamoDB (moto's server, one call at a time) --------------------------------------


@pytest.fixture(scope="session")
def aws_emulation() -> Iterator[Emulation]:
    from gateway.local import emulation

    server = emulation.start()
    yield server
    server.stop()


@pytest.fixture
def gateway_table(
    aws_emulation: Emulation, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GatewayTable]:
    """A fresh table, created from template.yaml's definition, that the gateway uses."""
    import uuid

    import boto3

    from gateway.http import dependencies
    from gateway.local.provision import create_table, load_template

    props = load_template()["Resources"]["GatewayTable"]["Properties"]
    client = boto3.client("dynamodb", endpoint_url=aws_emulation.url)
    name = create_table(client, f"gateway-{uuid.uuid4().hex[:12]}", props)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_emulation.url)
    monkeypatch.setenv("GATEWAY_TABLE", name)
    # The emulation applies one call at a time: hundreds of concurrent requests queue there.
    monkeypatch.setenv("GATEWAY_DYNAMODB_TIMEOUT_S", "60")
    dependencies.reset()
    aws_emulation.faults.clear()
    aws_emulation.calls.clear()
    yield GatewayTable(name, client, aws_emulation)
    aws_emulation.faults.clear()
    client.delete_table(TableName=name)
    dependencies.reset()


@dataclass
class ResponseBucket:
    name: str
    client: Any  # boto3 S3 client on the emulation, for arranging and inspecting

    def object_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture
def response_bucket(
    aws_emulation: Emulation, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ResponseBucket]:
    """A fresh bucket, made from template.yaml's ResponseStoreBucket, that the gateway keeps
    stored Responses API responses in (GATEWAY_RESPONSE_STORE_BUCKET)."""
    import uuid

    import boto3

    from gateway.http import dependencies
    from gateway.local.provision import create_bucket, properties
    from gateway.responses import store

    client = boto3.client("s3", endpoint_url=aws_emulation.url)
    name = create_bucket(
        client, f"responses-{uuid.uuid4().hex[:12]}", properties("ResponseStoreBucket")
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_emulation.url)
    monkeypatch.setenv("GATEWAY_RESPONSE_STORE_BUCKET", name)
    dependencies.reset()  # settings, and the AWS session the store's client is made from
    store.reset()
    bucket = ResponseBucket(name, client)
    yield bucket
    for key in bucket.object_keys():
        client.delete_object(Bucket=name, Key=key)
    client.delete_bucket(Bucket=name)
    dependencies.reset()
    store.reset()


@pytest.fixture
def spend_env(
    gateway_env: SimulatorApp,
    gateway_table: GatewayTable,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> GatewayTable:
    """The gateway on a fresh table with a spend queue, and a `metered` model priced at
    $0.001 per output token (tests/spend_helpers.py)."""
    from spend_helpers import spend_queue, write_metered_config

    write_metered_config(tmp_path, gateway_env.state.url, monkeypatch)
    spend_queue(gateway_table, monkeypatch)
    return gateway_table


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
