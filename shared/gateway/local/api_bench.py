"""Gateway CPU of the Messages, Responses, embeddings, legacy completions and rerank APIs
against chat completions (a script, not a test).

    make bench-messages   # or: PYTHONPATH=shared python -m gateway.local.api_bench -n 500
    make bench-responses  # or: ... -m gateway.local.api_bench --api responses -n 500
    make bench-surfaces   # or: ... -m gateway.local.api_bench --api surfaces -n 500
    make bench-providers  # or: ... -m gateway.local.api_bench --api providers -n 500

At c=1 under uvicorn, master key, no AWS: the gateway process's CPU time per request
(from /proc, so it holds on a noisy machine) and p50 latency, non-streamed and
streamed with 50 chunks, for
- chat: /v1/chat/completions on an Anthropic deployment (translated both ways);
- native: /v1/messages on the same deployment (relayed);
- bedrock_chat: /v1/chat/completions on a Bedrock Claude deployment (Converse);
- bedrock_native: /v1/messages on it (InvokeModel, its event stream);
- openai_chat: /v1/chat/completions on an OpenAI-compatible deployment (passed through);
- translated: /v1/messages on it (through chat).
With --api responses:
- openai_chat: /v1/chat/completions on an OpenAI deployment (passed through);
- native: /v1/responses on it (relayed to OpenAI's Responses API);
- claude_chat: /v1/chat/completions on an Anthropic deployment;
- translated: /v1/responses on it (through chat).
With --api surfaces (never streamed but completions):
- openai_chat: /v1/chat/completions on an OpenAI deployment;
- embed_openai: /v1/embeddings of 3 texts on it (one call, passed through), base64 as
  the openai SDK asks by default (1,536 dimensions);
- embed_titan: the same on Bedrock Titan v2 (three concurrent signed calls, 1,024
  dimensions each, answered as floats and encoded by the gateway);
- text_passthrough: /v1/completions on a completion model (passed through);
- text_translated: /v1/completions on an Anthropic deployment (through chat);
- rerank_cohere: /v1/rerank of 10 documents on Cohere's API.
With --api providers: /v1/chat/completions on OpenAI (passed through), Gemini
(generateContent, translated both ways) and Azure OpenAI (a deployment, passed through
with Azure's URL and key).
Responses requests send `store: false`: the bench has no AWS, and a stored response
adds one S3 PutObject (and a previous_response_id one GetObject), not gateway CPU.
Every deployment is the provider simulator.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from gateway.local.bench import HOST, MASTER, _cpu_seconds, _env, _free_port, _gateway, _run, _wait

ROUNDS = 5  # the figure is the median of the rounds' CPU per request
APIS = {
    "messages": {
        "chat": ("/v1/chat/completions", "claude"),
        "native": ("/v1/messages", "claude"),
        "bedrock_chat": ("/v1/chat/completions", "bedrock-claude"),
        "bedrock_native": ("/v1/messages", "bedrock-claude"),
        "openai_chat": ("/v1/chat/completions", "gpt"),
        "translated": ("/v1/messages", "gpt"),
    },
    "responses": {
        "openai_chat": ("/v1/chat/completions", "gpt"),
        "native": ("/v1/responses", "gpt"),
        "claude_chat": ("/v1/chat/completions", "claude"),
        "translated": ("/v1/responses", "claude"),
    },
    "surfaces": {
        "openai_chat": ("/v1/chat/completions", "gpt"),
        "embed_openai": ("/v1/embeddings", "embed"),
        "embed_titan": ("/v1/embeddings", "titan"),
        "text_passthrough": ("/v1/completions", "instruct"),
        "text_translated": ("/v1/completions", "claude"),
        "rerank_cohere": ("/v1/rerank", "rerank"),
    },
    "providers": {
        "openai_chat": ("/v1/chat/completions", "gpt"),
        "gemini_chat": ("/v1/chat/completions", "gemini"),
        "azure_chat": ("/v1/chat/completions", "azure"),
    },
}
STREAMED = frozenset({"/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/completions"})


def _config(sim: str) -> str:
    models = [
        ("claude", "anthropic/claude-sonnet-4-5", sim, {"api_key": "sk-ant-sim"}),
        ("bedrock-claude", "bedrock/us.anthropic.claude-sonnet-4-5-v1:0", sim, {}),
        ("gpt", "openai/gpt-4o-mini", f"{sim}/v1", {"api_key": "sk-sim"}),
        ("embed", "openai/text-embedding-3-small", f"{sim}/v1", {"api_key": "sk-sim"}),
        ("titan", "bedrock/amazon.titan-embed-text-v2:0", sim, {}),
        ("instruct", "openai/gpt-3.5-turbo-instruct", f"{sim}/v1", {"api_key": "sk-sim"}),
        ("rerank", "cohere/rerank-v3.5", sim, {"api_key": "sk-sim"}),
        ("gemini", "gemini/gemini-2.0-flash", sim, {"api_key": "sim-gemini"}),
        ("azure", "azure/gpt-4o-mini-bench", sim, {"api_key": "sim", "api_version": "2024-10-21"}),
    ]
    entries = [
        {
            "model_name": name,
            "litellm_params": {"model": model, "api_base": base, "aws_region_name": "us-east-1"}
            | extra,
        }
        for name, model, base, extra in models
    ]
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)  # noqa: SIM115
    json.dump({"model_list": entries}, config)
    config.close()
    return config.name


def _body(path: str, model: str, chunks: int) -> dict[str, object]:
    # The simulator echoes the prompt: 60 words are enough for `chunks` text deltas.
    text = f"[sim-chunks:{chunks}] " + "hello " * 60 if chunks else "hello " * 20
    body: dict[str, object] = {"model": model}
    if path == "/v1/embeddings":
        texts = ["hello " * 20, "world " * 20, "again " * 20]
        return {**body, "input": texts, "encoding_format": "base64"}  # the openai SDK's default
    if path == "/v1/rerank":
        return {**body, "query": "hello", "documents": [f"hello {i} " * 10 for i in range(10)]}
    if path == "/v1/completions":
        body.update(prompt=text, max_tokens=64)
    elif path == "/v1/responses":
        body.update(input=text, max_output_tokens=64, store=False)
    else:
        body.update(messages=[{"role": "user", "content": text}], max_tokens=64)
    if chunks:
        body["stream"] = True
    return body


def measure(n: int, api: str = "messages") -> dict[str, float]:
    routes = APIS[api]
    sim_port, gw_port = _free_port(), _free_port()
    sim = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gateway.local.simulator", "--host", HOST, "--port", str(sim_port)],
        env=_env(),
    )
    config = _config(f"http://{HOST}:{sim_port}")
    aws = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    gw = _gateway(gw_port, {**aws, "GATEWAY_CONFIG": config})
    results: dict[str, float] = {}
    try:
        _wait(f"http://{HOST}:{sim_port}/v1/models")
        _wait(f"http://{HOST}:{gw_port}/health")
        auth = {"authorization": f"Bearer {MASTER}"}
        with httpx.Client(timeout=30) as client:
            for shape, chunks in (("plain", 0), ("stream50", 50)):
                shaped = {k: v for k, v in routes.items() if not chunks or v[0] in STREAMED}
                times: dict[str, list[float]] = {label: [] for label in shaped}
                cpus: dict[str, list[float]] = {label: [] for label in shaped}
                for _ in range(ROUNDS):  # interleaved, so drifts of the machine hit all alike
                    for label, (path, model) in shaped.items():
                        url = f"http://{HOST}:{gw_port}{path}"
                        body = _body(path, model, chunks)
                        _run(client, url, body, 10, auth)
                        cpu0 = _cpu_seconds(gw.pid)
                        times[label] += _run(client, url, body, n // ROUNDS, auth)
                        cpus[label].append((_cpu_seconds(gw.pid) - cpu0) / (n // ROUNDS) * 1000)
                for label in shaped:
                    results[f"{shape}_{label}_p50_ms"] = statistics.median(times[label])
                    results[f"{shape}_{label}_gateway_cpu_ms"] = statistics.median(cpus[label])
    finally:
        for proc in (gw, sim):
            proc.terminate()
            proc.wait(timeout=10)
        Path(config).unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="requests per measurement")
    parser.add_argument("--api", choices=sorted(APIS), default="messages")
    args = parser.parse_args()
    for key, value in measure(args.n, args.api).items():
        print(f"{key}: {value:.3f}")


if __name__ == "__main__":
    main()
