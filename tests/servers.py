"""Run an ASGI app under uvicorn on 127.0.0.1 (a free port) in a background thread, or
the whole `make dev` stack in a process of its own."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import uvicorn

if TYPE_CHECKING:
    from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(app: object, *, lifespan: str = "on") -> Iterator[str]:
    """Yield the base URL (http://127.0.0.1:PORT) while the app is served."""
    port = free_port()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan=lifespan,  # type: ignore[arg-type]
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Stack:
    base_url: str  # what `make dev` prints: http://127.0.0.1:PORT/v1
    master_key: str
    banner: str

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")


@contextlib.contextmanager
def local_stack() -> Iterator[Stack]:
    """`make dev` (gateway.local.stack) on a free port, until it answers /v1/models."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GATEWAY_"))}
    env.update(PYTHONPATH=str(ROOT / "shared"), PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.local.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while "master key:" not in output or "curl" not in output:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"make dev did not start:\n{output}")
        output += proc.stdout.readline()
    key = re.search(r"master key:\s+(\S+)", output)
    base = re.search(r"base URL:\s+(\S+)", output)
    assert key is not None
    assert base is not None
    stack = Stack(base.group(1), key.group(1), output)
    # Keep reading its output, or a full pipe would block the stack when it logs a lot.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    headers = {"Authorization": f"Bearer {stack.master_key}"}
    for _ in range(100):
        try:
            httpx.get(f"{stack.base_url}/models", headers=headers, timeout=5)
            break
        except httpx.TransportError:
            if proc.poll() is not None:  # the app failed after the banner (e.g. its import)
                raise AssertionError(f"make dev exited:\n{output}") from None
            time.sleep(0.1)
    try:
        yield stack
    finally:
        proc.terminate()
        proc.wait(timeout=10)
