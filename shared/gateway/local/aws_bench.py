"""p50 at c=1 of one gateway with AWS against the same gateway without (a script, not a
test):

    make bench-aws   # or: PYTHONPATH=shared python -m gateway.local.aws_bench -n 1000

Two gateways under uvicorn, the same config and simulator, the master key:
- "no AWS": no table, no spend queue: nothing is sent anywhere;
- "AWS": a table and the spend queue, so each request's spend event goes to SQS after
  its response (gateway/billing/outbox.py).
Requests alternate between the two in rounds, so the machine's drift hits both alike.

The AWS side runs in a process of its own (never in the load generator's, whose client
it would slow), as one of:
- `endpoint`: a small server answering SQS's and DynamoDB's JSON protocols with a
  minimal 200 and keeping its connections open, as AWS's endpoints do. The gateway's
  side of each call (build, sign, send, read) is real; the service's side costs this
  machine nothing, as AWS's costs a Lambda sandbox nothing. This is the figure for the
  budget.
- `emulation`: moto's server (`make dev`'s AWS). It closes every connection (a new TCP
  connect per call) and spends milliseconds of CPU per call on the same two cores as
  the client, the gateway and the simulator: an upper bound, not what Lambda sees.
Each run also counts what reached the AWS side: one SendMessage per request, nothing
on DynamoDB (the master key needs no lookup).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from gateway.local.bench import (
    HOST,
    MASTER,
    _bench_config,
    _cpu_seconds,
    _env,
    _free_port,
    _gateway,
    _run,
    _wait,
)

ROUNDS = 10
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def serve_endpoint(port: int) -> None:
    """The minimal AWS endpoint (run in its own process): 200 to every call, counted by
    X-Amz-Target; GET /counts answers the counts as `target count` lines."""
    counts: dict[str, int] = {}
    answers = {
        "AmazonSQS.SendMessage": b'{"MessageId":"m","MD5OfMessageBody":"d"}',
    }

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                pairs = (line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
                fields = {name.lower(): value for name, value in pairs}
                await reader.readexactly(int(fields.get("content-length", "0")))
                if head.startswith("GET /counts"):
                    answer = "".join(f"{k} {v}\n" for k, v in counts.items()).encode()
                else:
                    target = fields.get("x-amz-target", "?")
                    counts[target] = counts.get(target, 0) + 1
                    answer = answers.get(target, b"{}")
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), answer)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, HOST, port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _aws_process(kind: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    if kind == "endpoint":
        code = f"from gateway.local.aws_bench import serve_endpoint; serve_endpoint({port})"
    else:
        code = (
            "import time; from gateway.local import emulation;"
            f"emulation.start({port}); time.sleep(1e9)"
        )
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env())  # noqa: S603
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the AWS side ({kind}) did not come up")


def _resources(kind: str, url: str) -> dict[str, str]:
    """Environment of the gateway with AWS: its table and spend queue on `url`."""
    table = f"bench-{uuid.uuid4().hex[:8]}"
    queue = f"https://sqs.us-east-1.amazonaws.com/000000000000/{table}"
    if kind == "emulation":
        from gateway.local.provision import create_table, load_template

        session = _session()
        props = load_template()["Resources"]["GatewayTable"]["Properties"]
        create_table(session.client("dynamodb", endpoint_url=url), table, props)
        queue = session.client("sqs", endpoint_url=url).create_queue(QueueName=table)["QueueUrl"]
    return {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": "us-east-1",
        "GATEWAY_TABLE": table,
        "GATEWAY_SPEND_QUEUE_URL": queue,
    }


def _session() -> Any:
    import boto3

    return boto3.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the emulation takes any credentials
        region_name="us-east-1",
    )


def _received(kind: str, url: str, queue_url: str) -> dict[str, int]:
    """What reached the AWS side: calls by target (endpoint) or messages queued."""
    if kind == "endpoint":
        lines = httpx.get(f"{url}/counts", timeout=5).text.splitlines()
        counts = {line.split()[0]: int(line.split()[1]) for line in lines}
        counts.pop("?", None)  # the readiness probe's GET
        return counts
    sqs = _session().client("sqs", endpoint_url=url)
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return {"messages queued": int(attributes["ApproximateNumberOfMessages"])}


def _settled(
    kind: str, url: str, queue_url: str, baseline: dict[str, int], n: int
) -> dict[str, int]:
    """What reached the AWS side once the gateway has sent its last events (the
    emulation, slower than the requests, works through a backlog), within 60 s."""
    deadline = time.monotonic() + 60
    while True:
        received = _received(kind, url, queue_url)
        sent = sum(
            count - baseline.get(target, 0)
            for target, count in received.items()
            if "Message" in target or target == "messages queued"
        )
        if sent >= n // ROUNDS * ROUNDS or time.monotonic() > deadline:
            return received
        time.sleep(0.5)


def measure(kind: str, n: int) -> dict[str, float]:
    aws, aws_url = _aws_process(kind)
    sim_port = _free_port()
    sim = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gateway.local.simulator", "--host", HOST, "--port", str(sim_port)],
        env=_env(),
    )
    config = _bench_config(sim_port)
    aws_env = _resources(kind, aws_url)
    bare_port, aws_port = _free_port(), _free_port()
    bare = _gateway(bare_port, {"GATEWAY_CONFIG": config, **CREDENTIALS})
    with_aws = _gateway(aws_port, {"GATEWAY_CONFIG": config, **aws_env})
    times: dict[str, list[float]] = {"no_aws": [], "aws": []}
    cpu = dict.fromkeys(times, 0.0)
    try:
        for port in (sim_port, bare_port, aws_port):
            _wait(f"http://{HOST}:{port}/health")
        body = {
            "model": "bench",
            "messages": [{"role": "user", "content": "hello " * 20}],
            "max_tokens": 64,
        }
        auth = {"authorization": f"Bearer {MASTER}"}
        gateways = {"no_aws": (bare, bare_port), "aws": (with_aws, aws_port)}
        with httpx.Client(timeout=30) as client:
            for _, port in gateways.values():  # warm each: connections, caches
                _run(client, f"http://{HOST}:{port}/v1/chat/completions", body, 50, auth)
            baseline = _received(kind, aws_url, aws_env["GATEWAY_SPEND_QUEUE_URL"])
            for round_ in range(ROUNDS):
                order = list(gateways) if round_ % 2 == 0 else list(reversed(gateways))
                for label in order:
                    proc, port = gateways[label]
                    url = f"http://{HOST}:{port}/v1/chat/completions"
                    cpu0 = _cpu_seconds(proc.pid)
                    times[label] += _run(client, url, body, n // ROUNDS, auth)
                    cpu[label] += _cpu_seconds(proc.pid) - cpu0
        received = _settled(kind, aws_url, aws_env["GATEWAY_SPEND_QUEUE_URL"], baseline, n)
    finally:
        for proc in (bare, with_aws, sim, aws):
            proc.terminate()
            proc.wait(timeout=10)
        Path(config).unlink()
    results = {f"{label}_p50_ms": statistics.median(values) for label, values in times.items()}
    results["aws_added_p50_ms"] = results["aws_p50_ms"] - results["no_aws_p50_ms"]
    for label, seconds in cpu.items():
        results[f"{label}_gateway_cpu_ms"] = seconds / len(times[label]) * 1000
    for target, count in received.items():
        results[f"{target} per request"] = (count - baseline.get(target, 0)) / len(times["aws"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="requests per gateway")
    parser.add_argument("--aws", choices=("endpoint", "emulation"), nargs="*")
    args = parser.parse_args()
    for kind in args.aws or ("endpoint", "emulation"):
        for key, value in measure(kind, args.n).items():
            print(f"{kind}: {key}: {value:.3f}")


if __name__ == "__main__":
    main()
