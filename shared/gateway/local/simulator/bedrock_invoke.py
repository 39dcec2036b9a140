"""AWS Bedrock Runtime InvokeModel for Anthropic Claude, and CountTokens.

``POST /model/{modelId}/invoke`` answers the Anthropic Message as JSON;
``.../invoke-with-response-stream`` answers an ``application/vnd.amazon.eventstream`` in which
each Anthropic stream event is one ``chunk`` event whose payload is
``{"bytes": <base64 of the event's JSON>, "p": <padding>}`` (a restJson1 blob is base64 text),
and ``message_stop`` also carries ``amazon-bedrock-invocationMetrics``;
``.../count-tokens`` answers ``{"inputTokens": N}`` for an InvokeModel or a Converse input.
Shapes follow botocore's bedrock-runtime model (API version 2023-09-30) and the Claude body
of https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html:
a Messages body without ``model`` or ``stream`` (the URL says both), with
``"anthropic_version": "bedrock-2023-05-31"`` and an optional ``anthropic_beta`` list. Auth,
errors and in-stream exceptions are Converse's (``bedrock_api``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from gateway.local.simulator.anthropic_messages import BEDROCK, message, parse_body, stream_events
from gateway.local.simulator.bedrock_api import LATENCY_MS, BedrockVendor, padded, parse_converse
from gateway.local.simulator.engine import Ev
from gateway.local.simulator.eventstream import encode_event
from gateway.local.simulator.scenario import RequestError, as_dict, dumps

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.local.simulator.scenario import Parsed, Plan

METRICS_KEY = "amazon-bedrock-invocationMetrics"
FIRST_BYTE_MS = 40
_HEADER = "x-amzn-bedrock-"
# Bedrock checks the Claude body against a closed JSON schema; its messages read like this.
_MALFORMED = "Malformed input request: #: {}, please reformat your input and try again."
_UNDECODABLE = "Malformed input request, please reformat your input and try again."
_NO_INPUT = (
    "1 validation error detected: Value null at 'input' failed to satisfy constraint: "
    "Member must not be null"
)
_TWO_INPUTS = "input: exactly one of invokeModel and converse may be set"
_REQUIRED = ("anthropic_version", "max_tokens", "messages")
_EXTRANEOUS = ("model", "stream")
# Answers name the Anthropic model, not the Bedrock id: "us.anthropic.claude-3-5-haiku-
# 20241022-v1:0" answers as "claude-3-5-haiku-20241022".
_CLAUDE_NAME = re.compile(r"anthropic\.(claude[^:/]*?)(?:-v\d+)?(?::\d+)?$")


def claude_name(model_id: str) -> str:
    """The Anthropic model name in a Bedrock model id or ARN; the id itself if none is."""
    found = _CLAUDE_NAME.search(model_id)
    return found.group(1) if found else model_id


def _invoke_messages(body: dict[str, Any]) -> list[Any]:
    for key in _REQUIRED:
        if key not in body:
            raise RequestError(_MALFORMED.format(f"required key [{key}] not found"))
    for key in _EXTRANEOUS:
        if key in body:
            raise RequestError(_MALFORMED.format(f"extraneous key [{key}] is not permitted"))
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise RequestError(_MALFORMED.format("messages: expected minimum item count: 1"))
    betas = body.get("anthropic_beta", [])
    if not isinstance(betas, list) or not all(isinstance(beta, str) for beta in betas):
        raise RequestError(_MALFORMED.format("anthropic_beta: expected type: JSONArray"))
    return messages


def parse_invoke(body: dict[str, Any], model_id: str, *, stream: bool) -> Parsed:
    """An InvokeModel Claude body (also CountTokens' ``input.invokeModel.body``)."""
    messages = _invoke_messages(body)
    return parse_body(body, messages, model=claude_name(model_id), stream=stream)


def _cache_counts(plan: Plan) -> dict[str, int]:
    """Cache token counts, only for a prompt with a cache breakpoint (as Converse's usage)."""
    if not plan.parsed.scan.breakpoint:
        return {}
    return {
        "cacheReadInputTokenCount": plan.cache_read,
        "cacheWriteInputTokenCount": plan.cache_write,
    }


def invocation_metrics(plan: Plan) -> dict[str, int]:
    return {
        "inputTokenCount": plan.input_tokens,
        "outputTokenCount": plan.output_tokens,
        "invocationLatency": LATENCY_MS,
        "firstByteLatency": FIRST_BYTE_MS,
        **_cache_counts(plan),
    }


def _chunk(position: int, event: dict[str, Any]) -> bytes:
    raw = base64.b64encode(dumps(event).encode()).decode()
    return encode_event("chunk", padded(position, {"bytes": raw}))


class BedrockInvokeVendor(BedrockVendor):
    """InvokeModel (``stream=False``) or InvokeModelWithResponseStream (``stream=True``)."""

    content_policy_is_stop = False  # Claude's answer is the body: a filter is its 400

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        return parse_invoke(body, str(request.path_params["model_id"]), stream=self.stream)

    def success_headers(self, plan: Plan) -> dict[str, str]:
        """The stream names its chunks' content type; a JSON answer reports its token counts."""
        if plan.parsed.stream:
            return {f"{_HEADER}content-type": "application/json"}
        counts = {
            "invocation-latency": LATENCY_MS,
            "input-token-count": plan.input_tokens,
            "output-token-count": plan.output_tokens,
        }
        if plan.parsed.scan.breakpoint:
            counts["cache-read-input-token-count"] = plan.cache_read
            counts["cache-write-input-token-count"] = plan.cache_write
        return {f"{_HEADER}{name}": str(value) for name, value in counts.items()}

    def success(self, plan: Plan) -> dict[str, Any]:
        return message(plan, BEDROCK)

    def events(self, plan: Plan) -> list[Ev]:
        events: list[Ev] = []
        for position, (event, kind) in enumerate(stream_events(plan, BEDROCK)):
            body = event
            if event["type"] == "message_stop":
                body = {**event, METRICS_KEY: invocation_metrics(plan)}
            events.append(Ev(_chunk(position, body), kind))
        return events

    def stream_invalid(self) -> bytes:
        """A well-framed chunk whose event JSON is cut: the model's payload is what breaks."""
        broken = base64.b64encode(b'{"type":"content_block_delta","index":0,"delta":{').decode()
        return encode_event("chunk", padded(0, {"bytes": broken}))


def _decoded_body(source: object) -> dict[str, Any]:
    text = as_dict(source).get("body")
    try:
        body = json.loads(base64.b64decode(str(text), validate=True)) if text else None
    except (binascii.Error, ValueError):
        body = None
    if not isinstance(body, dict):
        raise RequestError(_UNDECODABLE)
    return body


class BedrockCountVendor(BedrockVendor):
    """CountTokens: ``{"inputTokens": N}``, N being what InvokeModel or Converse with this
    input reports as input tokens (cached parts included: counting caches nothing)."""

    touches_cache = False

    def __init__(self) -> None:
        super().__init__(stream=False)

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        model_id = str(request.path_params["model_id"])
        source = as_dict(body.get("input"))
        members = source.keys() & {"invokeModel", "converse"}
        if len(members) != 1:
            raise RequestError(_TWO_INPUTS if members else _NO_INPUT)
        if "invokeModel" in source:
            return parse_invoke(_decoded_body(source["invokeModel"]), model_id, stream=False)
        return parse_converse(as_dict(source["converse"]), model_id, stream=False)

    def success(self, plan: Plan) -> dict[str, Any]:
        return {"inputTokens": plan.parsed.scan.total_tokens()}
