"""Measure the gateway against the budgets in ARCHITECTURE.md (a script, not a test).

    make bench            # or: PYTHONPATH=shared python -m gateway.local.bench -n 500

1. Import of the API app in a fresh interpreter: wall time and peak RSS (median of 5).
2. Overhead at c=1 under uvicorn: the same requests sent to the provider
   simulator directly and through the gateway; p50 latency of each, and the
   gateway process's CPU time per request (from /proc, so it holds on a noisy
   machine). Non-streamed, and streamed with 50 chunks.
3. Virtual keys (warm key cache) against the local AWS emulation (moto's server,
   in this process): DynamoDB calls per request, and p50 latency and gateway CPU
   added over the master key, for a key with an rpm limit (one conditional write)
   and for a key with rpm and max_parallel_requests (that write, plus the release).
   moto's server closes every connection, so each call here also pays a TCP connect.
4. The CPU of one DynamoDB call from the gateway's client (sign, send, read, decode)
   against a local endpoint that keeps connections open, as DynamoDB does.
5. Response-cache hits (S3 on the emulation), non-streamed and streamed (50 chunks):
   p50 latency and gateway CPU per request.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
MASTER = "sk-bench-master"
SHARED = str(Path(__file__).resolve().parents[2])
IMPORT_PROBE = (
    "import time, resource; t = time.perf_counter();"
    "from gateway.http.app import create_app; create_app();"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SHARED}


def measure_import(runs: int = 5) -> tuple[float, float]:
    walls, rss = [], []
    for _ in range(runs):
        out = subprocess.run(  # noqa: S603
            [sys.executable, "-c", IMPORT_PROBE],
            capture_output=True,
            text=True,
            env=_env(),
            check=True,
        ).stdout.split()
        walls.append(float(out[0]))
        rss.append(int(out[1]) / 1024)
    return statistics.median(walls), statistics.median(rss)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(
    client: httpx.Client, url: str, body: dict[str, object], n: int, headers: dict[str, str]
) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        with client.stream("POST", url, json=body, headers=headers) as response:
            for _chunk in response.iter_raw():
                pass
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code}")
        times.append((time.perf_counter() - start) * 1000)
    return times


def _aws() -> tuple[Any, dict[str, str], dict[str, str]]:
    """The emulation, a table from the template, and two virtual keys on it."""
    import boto3

    from gateway.local import emulation
    from gateway.local.provision import create_table, load_template
    from gateway.schemas.records import KeyRecord
    from gateway.store.dynamo import encode_item
    from gateway.store.keys import display_name, generate_key, hash_key, new_id
    from gateway.store.table import item_of

    aws = emulation.start()
    env = {
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "GATEWAY_TABLE": f"bench-{uuid.uuid4().hex[:8]}",  # moto's state outlives a server
    }
    session = boto3.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the emulation takes any credentials
        region_name="us-east-1",
    )
    client = session.client("dynamodb", endpoint_url=aws.url)
    props = load_template()["Resources"]["GatewayTable"]["Properties"]
    create_table(client, env["GATEWAY_TABLE"], props)
    sqs = session.client("sqs", endpoint_url=aws.url)
    env["GATEWAY_SPEND_QUEUE_URL"] = sqs.create_queue(QueueName=env["GATEWAY_TABLE"])["QueueUrl"]
    keys: dict[str, str] = {}
    budget = 10**12  # micro-dollars: never binds, but every request reserves
    for label, rpm, parallel, max_budget in (
        ("rpm", 10**9, None, None),
        ("rpm_parallel", 10**9, 100, None),
        ("budget", None, None, budget),
        ("rpm_budget", 10**9, None, budget),
    ):
        key = generate_key()
        record = KeyRecord(
            token=hash_key(key),
            key_id=new_id(),
            key_name=display_name(key),
            rpm_limit=rpm,
            max_parallel_requests=parallel,
            max_budget_micros=max_budget,
            budget_duration="1mo" if max_budget else None,
        )
        client.put_item(TableName=env["GATEWAY_TABLE"], Item=encode_item(item_of(record)))
        keys[label] = key
    return aws, env, keys


def _gateway(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The app under uvicorn as functions/api/run.sh serves it."""
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "gateway.http.app:create_app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--no-access-log",
            "--loop",
            "asyncio",
            "--http",
            "httptools",
            "--log-level",
            "warning",
        ],
        env={**_env(), **env, "GATEWAY_MASTER_KEY": MASTER},
        stdout=subprocess.DEVNULL,  # each request's EMF line: the terminal's cost is not ours
    )


def _bench_config(sim_port: int, **extra: object) -> str:
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)  # noqa: SIM115
    entry = {
        "model_name": "bench",
        "litellm_params": {
            "model": "openai/bench",
            "api_base": f"http://{HOST}:{sim_port}/v1",
            "api_key": "sk-sim",
        },
        # priced, so a budgeted key reserves a worst case
        "model_info": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
    }
    json.dump({"model_list": [entry], **extra}, config)
    config.close()
    return config.name


def measure_overhead(n: int) -> dict[str, float]:
    sim_port, gw_port = _free_port(), _free_port()
    aws, aws_env, keys = _aws()
    sim = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gateway.local.simulator", "--host", HOST, "--port", str(sim_port)],
        env=_env(),
    )
    config = _bench_config(sim_port)
    gw = _gateway(gw_port, {**aws_env, "GATEWAY_CONFIG": config})
    results: dict[str, float] = {}
    try:
        _wait(f"http://{HOST}:{sim_port}/v1/models")
        _wait(f"http://{HOST}:{gw_port}/health")
        auth = {"authorization": f"Bearer {MASTER}"}
        with httpx.Client(timeout=30) as client:
            for label, chunks in (("plain", 0), ("stream50", 50)):
                body: dict[str, object] = {
                    "model": "bench",
                    "messages": [{"role": "user", "content": "hello " * 20}],
                    "max_tokens": 64,
                }
                sim_headers = dict(auth)
                if chunks:
                    body["stream"] = True
                    body["messages"] = [{"role": "user", "content": f"[sim-chunks:{chunks}] hello"}]
                direct_url = f"http://{HOST}:{sim_port}/v1/chat/completions"
                gw_url = f"http://{HOST}:{gw_port}/v1/chat/completions"
                _run(client, direct_url, body, 50, sim_headers)
                _run(client, gw_url, body, 50, auth)
                direct = _run(client, direct_url, body, n, sim_headers)
                cpu0 = _cpu_seconds(gw.pid)
                via = _run(client, gw_url, body, n, auth)
                cpu = (_cpu_seconds(gw.pid) - cpu0) / n * 1000
                results[f"{label}_direct_p50_ms"] = statistics.median(direct)
                results[f"{label}_gateway_p50_ms"] = statistics.median(via)
                results[f"{label}_overhead_p50_ms"] = statistics.median(via) - statistics.median(
                    direct
                )
                results[f"{label}_gateway_cpu_ms"] = cpu
            results.update(_keys(client, gw, aws, keys, gw_url, n))
    finally:
        aws.stop()
        for proc in (gw, sim):
            proc.terminate()
            proc.wait(timeout=10)
        Path(config).unlink()
    return results


def _keys(
    client: httpx.Client,
    gw: subprocess.Popen[bytes],
    aws: Any,
    keys: dict[str, str],
    url: str,
    n: int,
) -> dict[str, float]:
    body: dict[str, object] = {
        "model": "bench",
        "messages": [{"role": "user", "content": "hello " * 20}],
        "max_tokens": 64,
    }
    results: dict[str, float] = {}
    aws.calls.clear()
    master = _run(client, url, body, n, {"authorization": f"Bearer {MASTER}"})
    results["master_aws_calls_per_request"] = len(aws.calls) / n
    for label, key in keys.items():
        auth = {"authorization": f"Bearer {key}"}
        _run(client, url, body, 20, auth)  # warm the key cache
        aws.calls.clear()
        cpu0 = _cpu_seconds(gw.pid)
        via = _run(client, url, body, n, auth)
        results[f"key_{label}_aws_calls_per_request"] = len(aws.calls) / n
        results[f"key_{label}_added_p50_ms"] = statistics.median(via) - statistics.median(master)
        results[f"key_{label}_gateway_cpu_ms"] = (_cpu_seconds(gw.pid) - cpu0) / n * 1000
    return results


def measure_cache_hits(n: int) -> dict[str, float]:
    """Hits of the S3 response cache (on the emulation): p50 latency and gateway CPU."""
    import boto3

    aws, aws_env, _keys = _aws()
    bucket = f"bench-cache-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3",
        endpoint_url=aws.url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the emulation takes any credentials
    ).create_bucket(Bucket=bucket)
    sim_port, gw_port = _free_port(), _free_port()
    sim = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gateway.local.simulator", "--host", HOST, "--port", str(sim_port)],
        env=_env(),
    )
    config = _bench_config(sim_port, litellm_settings={"cache": True})
    env = {**aws_env, "GATEWAY_CONFIG": config, "GATEWAY_CACHE_BUCKET": bucket}
    gw = _gateway(gw_port, env)
    results: dict[str, float] = {}
    try:
        _wait(f"http://{HOST}:{gw_port}/health")
        url = f"http://{HOST}:{gw_port}/v1/chat/completions"
        auth = {"authorization": f"Bearer {MASTER}"}
        with httpx.Client(timeout=30) as client:
            for label, stream in (("plain", False), ("stream", True)):
                body = {
                    "model": "bench",
                    "stream": stream,
                    "messages": [{"role": "user", "content": "[sim-chunks:50] hello " * 5}],
                }
                _run(client, url, body, 1, auth)  # the miss that writes the entry
                time.sleep(0.5)
                _run(client, url, body, 20, auth)
                cpu0 = _cpu_seconds(gw.pid)
                times = _run(client, url, body, n, auth)
                results[f"cache_hit_{label}_p50_ms"] = statistics.median(times)
                results[f"cache_hit_{label}_gateway_cpu_ms"] = (
                    (_cpu_seconds(gw.pid) - cpu0) / n * 1000
                )
            check = client.post(url, json=body, headers=auth)
            if check.headers.get("x-gateway-cache") != "hit":
                raise RuntimeError("the cache did not answer: the figures would be misses")
    finally:
        for proc in (gw, sim):
            proc.terminate()
            proc.wait(timeout=10)
        aws.stop()
        Path(config).unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="requests per measurement")
    args = parser.parse_args()
    wall, rss = measure_import()
    print(f"import: {wall:.3f} s wall, {rss:.0f} MB RSS (median of 5)")
    for key, value in measure_overhead(args.n).items():
        print(f"{key}: {value:.2f}")
    from gateway.local.call_cost import measure_aws_calls

    for key, value in measure_aws_calls(args.n * 4).items():
        print(f"{key} (kept connection): {value:.3f}")
    for key, value in measure_cache_hits(args.n).items():
        print(f"{key}: {value:.2f}")


if __name__ == "__main__":
    main()
