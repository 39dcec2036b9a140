"""The Messages API on Bedrock Claude: InvokeModel / InvokeModelWithResponseStream.

Bedrock's InvokeModel takes Anthropic's Messages body itself, minus `model` (it is
in the URL) and `stream` (the operation decides), plus
`anthropic_version: bedrock-2023-05-31`; betas go in the body's `anthropic_beta`.
The answer is Anthropic's Message; a stream is an AWS event stream whose `chunk`
events carry each Anthropic event as base64 JSON (`{"bytes": ...}`), so every
event type (thinking, signatures, input_json deltas) comes back unchanged.
Bedrock adds `amazon-bedrock-invocationMetrics` to message_stop, removed here so
clients see Anthropic's event. CountTokens takes the same body, base64, under
`input.invokeModel.body`.
References: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html,
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CountTokens.html.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from gateway import errors
from gateway.providers import failures
from gateway.providers.bedrock.errors import stream_error
from gateway.providers.bedrock.request import endpoint
from gateway.providers.spec import UpstreamRequest

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.providers.spec import Target, UpstreamEvent

ANTHROPIC_VERSION = "bedrock-2023-05-31"
METRICS = "amazon-bedrock-invocationMetrics"


def _request(
    target: Target, operation: str, body: dict[str, Any], *, stream: bool = False
) -> UpstreamRequest:
    headers = {"content-type": "application/json", "accept": "application/json"}
    region = None
    if target.api_key:  # a Bedrock API key replaces SigV4
        headers["authorization"] = f"Bearer {target.api_key}"
    else:
        region = target.region
    base = endpoint(target)  # fails early without a region or api_base
    return UpstreamRequest(
        url=f"{base}/model/{quote(target.model, safe='')}/{operation}",
        body=body,
        headers=headers,
        stream=stream,
        framing="eventstream" if stream else "sse",
        sigv4_region=region,
    )


def invoke_body(body: Mapping[str, Any], betas: Sequence[str]) -> dict[str, Any]:
    out = {key: value for key, value in body.items() if key not in ("model", "stream")}
    out["anthropic_version"] = ANTHROPIC_VERSION
    if betas:
        out["anthropic_beta"] = list(betas)
    return out


def build_messages_request(
    body: Mapping[str, Any], target: Target, *, stream: bool, betas: Sequence[str]
) -> UpstreamRequest:
    operation = "invoke-with-response-stream" if stream else "invoke"
    return _request(target, operation, invoke_body(body, betas), stream=stream)


def build_count_request(
    body: Mapping[str, Any], target: Target, *, betas: Sequence[str]
) -> UpstreamRequest:
    invoke = invoke_body(body, betas)
    invoke.setdefault("max_tokens", 1)  # InvokeModel requires it; it changes no count
    blob = base64.b64encode(orjson.dumps(invoke)).decode()
    return _request(target, "count-tokens", {"input": {"invokeModel": {"body": blob}}})


def count_from(body: bytes) -> int:
    tokens = failures.json_object(body).get("inputTokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        raise errors.UpstreamError("The provider sent a malformed token count.")
    return tokens


def messages_event(event: UpstreamEvent) -> dict[str, Any] | None:
    """One event-stream message as the Anthropic event its chunk carries."""
    if event.is_exception:
        raise stream_error(event.name, event.data)
    if event.name != "chunk":
        return None  # an event type added after this was written
    part = failures.json_object(event.data).get("bytes")
    try:
        raw = base64.b64decode(part, validate=True) if isinstance(part, str) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None:
        raise errors.UpstreamError("The provider sent a malformed stream chunk.")
    data = failures.json_object(raw)
    data.pop(METRICS, None)
    if data.get("type") == "error":
        raise errors.UpstreamError("The provider failed mid-stream.")
    return data
