"""`make dev` end to end: the stack process, then the official SDK against every local model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
import yaml

from servers import free_port

ROOT = Path(__file__).resolve().parents[2]
LOCAL_MODELS = [
    entry["model_name"]
    for entry in yaml.safe_load((ROOT / "shared/gateway/local/config.yaml").read_text())[
        "model_list"
    ]
]


@pytest.fixture(scope="module")
def stack() -> tuple[str, str]:
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
    assert base.group(1) == f"http://127.0.0.1:{port}/v1"
    client = openai.OpenAI(base_url=base.group(1), api_key=key.group(1), max_retries=0)
    for _ in range(100):
        try:
            client.models.list()
            break
        except openai.APIConnectionError:
            time.sleep(0.1)
    yield base.group(1), key.group(1)  # type: ignore[misc]
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("model", LOCAL_MODELS)
def test_quick_start_works_for_every_local_model(stack: tuple[str, str], model: str) -> None:
    base, key = stack
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Hello"}]
    )
    assert reply.choices[0].message.content == "Echo: Hello"
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: Hello"
    assert chunks[-1].usage is not None


def test_the_master_key_comes_from_the_emulated_secret(stack: tuple[str, str]) -> None:
    base, key = stack
    assert key.startswith("sk-local-")
    bad = openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
