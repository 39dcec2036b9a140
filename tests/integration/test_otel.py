"""Optional OpenTelemetry export (gateway/telemetry/otel.py): each request's GenAI metrics
reach an OTLP/HTTP collector (a fake on 127.0.0.1) in a body OpenTelemetry's own protobuf
schema parses, with the semantic conventions' names, units, buckets and attributes; a
collector that fails keeps nothing from the gateway's answers and loses no points; off,
the module is never imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from conftest import MASTER_KEY, use_models
from keys import asgi_client, bearer, chat

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.requests import Request

    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio
SHARED = str(Path(__file__).resolve().parents[2] / "shared")
TOKEN_BOUNDS = [float(4**n) for n in range(14)]
DURATION_BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48]
DURATION_BOUNDS += [40.96, 81.92]
TTFT_BOUNDS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5]
TTFT_BOUNDS += [5.0, 7.5, 10.0]


class Collector:
    """An OTLP/HTTP metrics receiver that answers each export with the next of `statuses`
    (then 200) and keeps what it was sent."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def export(self, request: Request) -> Response:
        body = await request.body()
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append((dict(request.headers), body))
        return Response(b"{}", status, media_type="application/json")

    def documents(self) -> list[dict[str, Any]]:
        out = []
        for _headers, body in self.received:
            json_format.Parse(body, ExportMetricsServiceRequest())  # strict: no unknown field
            out.append(json.loads(body))
        return out


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    from servers import serve

    fake = Collector()
    app = Starlette(routes=[Route("/v1/metrics", fake.export, methods=["POST"])])
    with serve(app) as url:
        yield fake, url


@pytest.fixture
def otel_env(
    gateway_env: SimulatorApp,
    collector: tuple[Collector, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Collector:
    fake, url = collector
    monkeypatch.setenv("GATEWAY_OTEL_ENDPOINT", url)
    monkeypatch.setenv("GATEWAY_OTEL_HEADERS", "x-api-key=s3cr%3Dt, x-team=ops")
    monkeypatch.setenv("GATEWAY_OTEL_INTERVAL_S", "3600")  # exports only when told: settle()
    entry = {
        "model_name": "embedder",
        "litellm_params": {
            "model": "openai/text-embedding-3-small",
            "api_base": f"{gateway_env.state.url}/v1",
            "api_key": "sk-sim",
        },
    }
    use_models(tmp_path / "config.yaml", gateway_env.state.url, [entry], monkeypatch)
    return fake


def series(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Metric name -> its data points (with attributes as a plain dict), all exports."""
    out: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        (resource,) = document["resourceMetrics"]
        (scope,) = resource["scopeMetrics"]
        for metric in scope["metrics"]:
            assert metric["histogram"]["aggregationTemporality"] == 1  # delta
            for point in metric["histogram"]["dataPoints"]:
                attributes = {
                    a["key"]: next(iter(a["value"].values())) for a in point["attributes"]
                }
                out.setdefault(metric["name"], []).append(
                    {**point, "attributes": attributes, "unit": metric["unit"]}
                )
    return out


def total(points: list[dict[str, Any]], **attributes: str) -> tuple[int, float]:
    chosen = [p for p in points if all(p["attributes"].get(k) == v for k, v in attributes.items())]
    return sum(int(p["count"]) for p in chosen), sum(p["sum"] for p in chosen)


async def test_genai_metrics_reach_the_collector_per_the_conventions(otel_env: Collector) -> None:
    from gateway.http.app import create_app
    from gateway.telemetry import otel

    master = bearer(MASTER_KEY)
    async with asgi_client(create_app()) as client:
        plain = await client.post("/v1/chat/completions", json=chat(), headers=master)
        streamed = await client.post(
            "/v1/chat/completions", json=chat(text="[sim-chunks:5] hi", stream=True), headers=master
        )
        claude = await client.post(
            "/v1/chat/completions", json=chat("bedrock-claude"), headers=master
        )
        vectors = await client.post(
            "/v1/embeddings", json={"model": "embedder", "input": ["a", "b"]}, headers=master
        )
        failed = await client.post(
            "/v1/chat/completions", json=chat(text="[sim-fault:500] x"), headers=master
        )
        refused = await client.post("/v1/chat/completions", json=chat(), headers=bearer("sk-no"))
        assert otel_env.received == []  # nothing is sent before the interval is up
        await otel.settle()
    assert [r.status_code for r in (plain, streamed, claude, vectors)] == [200] * 4
    assert failed.status_code >= 500
    assert refused.status_code == 401

    (document,) = otel_env.documents()
    headers, _ = otel_env.received[0]
    assert headers["x-api-key"] == "s3cr=t"
    assert headers["x-team"] == "ops"
    assert headers["content-type"] == "application/json"
    resource = {
        a["key"]: a["value"]["stringValue"]
        for a in document["resourceMetrics"][0]["resource"]["attributes"]
    }
    assert resource["service.name"] == "llm-gateway"
    found = series([document])

    durations = found["gen_ai.server.request.duration"]
    assert {p["unit"] for p in durations} == {"s"}
    assert all(p["explicitBounds"] == DURATION_BOUNDS for p in durations)
    assert total(durations)[0] == 5  # every request that named a model; not the refused key
    errors = [p for p in durations if "error.type" in p["attributes"]]
    assert sum(int(p["count"]) for p in errors) == 1
    assert total(durations, **{"gen_ai.provider.name": "aws.bedrock"})[0] == 1
    assert total(durations, **{"gen_ai.operation.name": "embeddings"})[0] == 1

    tokens = found["gen_ai.client.token.usage"]
    assert {p["unit"] for p in tokens} == {"{token}"}
    assert all(p["explicitBounds"] == TOKEN_BOUNDS for p in tokens)
    chat_input = plain.json()["usage"]["prompt_tokens"]
    chat_output = plain.json()["usage"]["completion_tokens"]
    claude_usage = claude.json()["usage"]
    common = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
    count, input_sum = total(tokens, **common, **{"gen_ai.token.type": "input"})
    assert count == 2  # the plain request and the stream
    assert input_sum >= chat_input
    bedrock = {"gen_ai.provider.name": "aws.bedrock", "gen_ai.request.model": "bedrock-claude"}
    assert total(tokens, **bedrock, **{"gen_ai.token.type": "input"}) == (
        1,
        claude_usage["prompt_tokens"],
    )
    assert total(tokens, **bedrock, **{"gen_ai.token.type": "output"}) == (
        1,
        claude_usage["completion_tokens"],
    )
    assert total(
        tokens, **{"gen_ai.operation.name": "embeddings", "gen_ai.token.type": "input"}
    ) == (1, vectors.json()["usage"]["prompt_tokens"])
    assert chat_output > 0
    response_models = {p["attributes"].get("gen_ai.response.model") for p in tokens}
    assert "gpt-4o-mini" in response_models

    (first_token,) = found["gen_ai.server.time_to_first_token"]  # the stream only
    assert first_token["unit"] == "s"
    assert first_token["explicitBounds"] == TTFT_BOUNDS
    assert first_token["count"] == "1"
    (stream_duration,) = [
        p
        for p in durations
        if p["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
        and "error.type" not in p["attributes"]
    ]
    assert first_token["sum"] <= stream_duration["max"]


async def test_a_failing_collector_loses_no_points_and_a_refusing_one_drops_them(
    otel_env: Collector,
) -> None:
    from gateway.http.app import create_app
    from gateway.telemetry import otel

    otel_env.statuses = [503]
    async with asgi_client(create_app()) as client:
        first = await client.post("/v1/chat/completions", json=chat(), headers=bearer(MASTER_KEY))
        await otel.settle()  # 503: kept
        assert otel_env.received == []
        second = await client.post("/v1/chat/completions", json=chat(), headers=bearer(MASTER_KEY))
        await otel.settle()  # both requests' points, in one export
        otel_env.statuses = [400]
        await client.post("/v1/chat/completions", json=chat(), headers=bearer(MASTER_KEY))
        await otel.settle()  # 400: dropped
        await otel.settle()  # nothing left to send
    assert first.status_code == second.status_code == 200
    (document,) = otel_env.documents()
    assert total(series([document])["gen_ai.server.request.duration"])[0] == 2


async def test_an_unreachable_collector_never_fails_a_request(
    gateway_env: SimulatorApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.http.app import create_app
    from gateway.telemetry import otel
    from servers import free_port

    monkeypatch.setenv("GATEWAY_OTEL_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("GATEWAY_OTEL_INTERVAL_S", "0")  # an export after every request
    async with asgi_client(create_app()) as client:
        for _ in range(3):
            response = await client.post(
                "/v1/chat/completions", json=chat(), headers=bearer(MASTER_KEY)
            )
            assert response.status_code == 200
        await otel.settle()


async def test_exports_follow_the_interval_without_being_asked(
    otel_env: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio

    from gateway.http.app import create_app

    monkeypatch.setenv("GATEWAY_OTEL_INTERVAL_S", "0.2")
    async with asgi_client(create_app()) as client:
        await client.post("/v1/chat/completions", json=chat(), headers=bearer(MASTER_KEY))
        with anyio.fail_after(5):
            while not otel_env.received:
                await anyio.sleep(0.05)
    assert total(series(otel_env.documents())["gen_ai.server.request.duration"])[0] == 1


def test_off_by_default_the_module_is_never_imported() -> None:
    probe = (
        "import sys; from gateway.http.app import create_app;"
        "create_app().build_middleware_stack();"  # what the first request does
        "print(sorted(m for m in sys.modules if m.startswith('gateway.telemetry.o')))"
    )
    env = {"PYTHONPATH": SHARED, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.strip() == "[]"
    on = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**env, "GATEWAY_OTEL_ENDPOINT": "http://127.0.0.1:9"},
        check=True,
    ).stdout
    assert "gateway.telemetry.otel" in on


async def test_the_shutdown_exports_what_is_left(otel_env: Collector) -> None:
    """A sandbox shut down (SIGTERM: the lifespan's end) before its interval was up."""
    import httpx

    from gateway.http.app import create_app
    from servers import serve

    with serve(create_app()) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.post(
                "/v1/chat/completions", json=chat(), headers=bearer(MASTER_KEY)
            )
        assert response.status_code == 200
        assert otel_env.received == []
    assert total(series(otel_env.documents())["gen_ai.server.request.duration"])[0] == 1
