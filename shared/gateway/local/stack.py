"""`make dev`: the whole gateway on 127.0.0.1, offline.

Starts a moto server in a process of its own (AWS emulation, resources created from
template.yaml), the provider simulator, the spend worker (SpendFunction's work on
SpendQueue, gateway/local/spend_worker.py) and the gateway under uvicorn on PORT
(default 4000): the inference API under /v1 and the admin API (/key, /team,
/user) on the same port, which in AWS are two functions behind one API.
Prints the base URL, the master key and example calls.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

HOST = "127.0.0.1"
LOCAL_CONFIG = Path(__file__).with_name("config.yaml")


def _start_moto() -> str:
    """The AWS emulation in a process of its own (`python -m gateway.local.emulation`).
    Each moto call costs milliseconds of CPU (a request with a virtual key makes two or
    three, the spend worker more): under one GIL with the gateway they would take turns
    with every request's own work, and a burst would queue both. Apart, each has a core.
    The emulation ends when its standard input closes: when this process ends, however."""
    import subprocess
    import sys

    shared = str(Path(__file__).resolve().parents[2])  # where `gateway` is imported from
    path = os.pathsep.join(p for p in (shared, os.environ.get("PYTHONPATH")) if p)
    child = subprocess.Popen(
        [sys.executable, "-m", "gateway.local.emulation"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
        text=True,
    )
    _children.append(child)  # its stdin stays open while this process lives
    assert child.stdout is not None
    url = child.stdout.readline().strip()  # its first line; it prints nothing more there
    child.stdout.close()
    if not url.startswith("http://"):
        child.kill()
        raise RuntimeError("the AWS emulation did not start")
    return url


_children: list[subprocess.Popen[str]] = []


def _start_simulator(port: int) -> str:
    import uvicorn

    from gateway.local.simulator import create_app

    config = uvicorn.Config(
        create_app(), host=HOST, port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError("the provider simulator did not start")
    return f"http://{HOST}:{port}"


def _service_account(simulator: str) -> str:
    """A service-account key for the Vertex AI models, its tokens minted by the
    simulator's Google OAuth endpoint (config.yaml reads it from this variable, as a
    deployment reads one from the provider-secrets secret)."""
    import json

    from gateway.local.google_key import service_account

    return json.dumps(service_account(f"{simulator}/token"))


def _aws_environment(endpoint: str) -> None:
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto takes any credentials
        AWS_REGION=os.environ.get("AWS_REGION", "us-east-1"),
        AWS_DEFAULT_REGION=os.environ.get("AWS_REGION", "us-east-1"),
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)


def prepare(sim_port: int) -> dict[str, str]:
    """Start AWS emulation and the simulator; set the gateway's environment."""
    import boto3

    from gateway.local.provision import provision, secret_value

    _aws_environment(_start_moto())
    created = provision(boto3.Session())
    simulator = _start_simulator(sim_port)
    os.environ["GATEWAY_SIMULATOR_URL"] = simulator
    os.environ["GATEWAY_SIMULATOR_OPENAI_URL"] = simulator + "/v1"
    os.environ["GATEWAY_SIMULATOR_VERTEX_CREDENTIALS"] = _service_account(simulator)
    os.environ.setdefault("GATEWAY_CONFIG", str(LOCAL_CONFIG))
    if "ProviderSecrets" in created:
        os.environ["GATEWAY_PROVIDER_SECRETS_ARN"] = created["ProviderSecrets"]
    if "GatewayTable" in created:  # always the emulated table: a name from outside is not in it
        os.environ["GATEWAY_TABLE"] = created["GatewayTable"]
    if "ResponseCacheBucket" in created:  # likewise the emulated bucket
        os.environ["GATEWAY_CACHE_BUCKET"] = created["ResponseCacheBucket"]
    if "ResponseStoreBucket" in created:  # stored responses (/v1/responses, store: true)
        os.environ["GATEWAY_RESPONSE_STORE_BUCKET"] = created["ResponseStoreBucket"]
    if "SpendQueue" in created and "GatewayTable" in created:
        from gateway.local import spend_worker

        os.environ["GATEWAY_SPEND_QUEUE_URL"] = created["SpendQueue"]
        spend_worker.start(created["SpendQueue"], table=created["GatewayTable"])
    if not os.environ.get("GATEWAY_MASTER_KEY") and "MasterKeySecret" in created:
        os.environ["GATEWAY_MASTER_KEY_SECRET_ARN"] = created["MasterKeySecret"]
        master = secret_value(boto3.Session(), created["MasterKeySecret"])
    else:
        master = os.environ.get("GATEWAY_MASTER_KEY", "")
    return {"simulator": simulator, "master_key": master}


def banner(root: str, info: dict[str, str]) -> str:
    master = info["master_key"]
    auth = f"-H 'Authorization: Bearer {master}'"
    json_body = "-H 'Content-Type: application/json'"
    return (
        f"\n  LLM gateway (local)\n  base URL:    {root}/v1\n  admin URL:   {root}\n"
        f"  master key:  {master}\n  config:      {os.environ['GATEWAY_CONFIG']}\n"
        f"  simulator:   {info['simulator']}\n  table:       {os.environ.get('GATEWAY_TABLE')}\n"
        f"  cache:       {os.environ.get('GATEWAY_CACHE_BUCKET')}\n"
        f"  spend queue: {os.environ.get('GATEWAY_SPEND_QUEUE_URL')}\n\n"
        f"  curl {root}/v1/chat/completions {auth} \\\n    {json_body} \\\n"
        '    -d \'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}\'\n\n'
        f"  # Anthropic's Messages API (Claude Code: ANTHROPIC_BASE_URL={root}\n"
        "  # ANTHROPIC_AUTH_TOKEN=<key>), on any model:\n"
        f"  curl {root}/v1/messages -H 'x-api-key: {master}' \\\n    {json_body} \\\n"
        '    -d \'{"model": "claude-3-5-haiku", "max_tokens": 100, '
        '"messages": [{"role": "user", "content": "Hi"}]}\'\n\n'
        '  # a virtual key for gpt-4o-mini (the answer\'s "key" then replaces the master key):\n'
        f"  curl {root}/key/generate {auth} \\\n    {json_body} \\\n"
        '    -d \'{"models": ["gpt-4o-mini"]}\'\n'
    )


def main() -> None:
    import uvicorn

    port = int(os.environ.get("PORT", "4000"))
    info = prepare(int(os.environ.get("SIMULATOR_PORT", "0")) or _free_port())
    print(banner(f"http://{HOST}:{port}", info), flush=True)
    uvicorn.run(
        "gateway.http.app:create_local_app",
        factory=True,
        host=HOST,
        port=port,
        access_log=False,
        loop="asyncio",  # served as functions/api/run.sh serves it in Lambda
        http="httptools",
        log_level=os.environ.get("LOG_LEVEL", "warning").lower(),
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
