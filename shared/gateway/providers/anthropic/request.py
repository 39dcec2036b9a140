"""ChatCompletionRequest -> POST {api_base}/v1/messages (anthropic-version 2023-06-01).

Claude's own rules live in providers/claude.py, shared with Bedrock's Claude models:
model generations (adaptive thinking + `output_config.effort` from Claude 4.7,
a thinking budget before it), the default `max_tokens` per generation, and the
sampling that a generation or thinking forbids (dropped and named). This module
writes those decisions in the Messages API's shape.

Decisions a reader could not guess:
- `max_tokens` is required upstream, so one is always sent: the client's limit,
  else the deployment's `litellm_params.max_tokens`, else the generation default.
- `reasoning_effort` "none" disables thinking on budget models.
- With thinking on, a forced tool choice is refused (400), as the API does.
- `response_format` json_schema becomes structured outputs
  (`output_config.format`), sharing `output_config` with the effort; json_object
  has no faithful equivalent (400).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.errors import UnsupportedParameterError
from gateway.providers import claude, params
from gateway.providers.anthropic.messages import map_messages

# Re-exported: callers (this dialect's tests) import the generation rules from here.
from gateway.providers.claude import ADAPTIVE_FROM as ADAPTIVE_FROM
from gateway.providers.claude import EFFORTS as EFFORTS
from gateway.providers.claude import model_version as model_version
from gateway.providers.params import Support
from gateway.providers.spec import UpstreamRequest, require_api_base

if TYPE_CHECKING:
    from gateway.providers.params import ParamTable
    from gateway.providers.spec import Target
    from gateway.schemas.openai import ChatCompletionRequest

API_VERSION = "2023-06-01"

PARAMS: ParamTable = {
    **params.TRANSLATED_DEFAULTS,
    "user": Support.MAPPED,  # -> metadata.user_id
}
# https://docs.anthropic.com/en/api/messages: temperature "Defaults to 1.0". top_p and
# top_k document no default.
SAMPLING_DEFAULTS: dict[str, Any] = {"temperature": 1.0}
configure = require_api_base


def endpoint(api_base: str) -> str:
    """LiteLLM accepts api_base with or without `/v1` or `/v1/messages`."""
    base = api_base.rstrip("/")
    for suffix in ("/v1/messages", "/v1"):
        if base.endswith(suffix):
            base = base.removesuffix(suffix)
            break
    return base + "/v1/messages"


def build_request(request: ChatCompletionRequest, target: Target) -> UpstreamRequest:
    dropped = list(params.check(request, PARAMS))
    system, messages = map_messages(request.messages)
    version = model_version(target.model)
    thinking = claude.thinking(
        request.reasoning_effort, claude.output_limit(request, target), version
    )
    body: dict[str, Any] = {
        "model": target.model,
        "max_tokens": thinking.max_tokens,
        "messages": messages,
    }
    if system:
        body["system"] = system
    if thinking.config is not None:
        body["thinking"] = thinking.config
    sampling = claude.sampling(
        request.temperature, request.top_p, version=version, thinking_on=thinking.on
    )
    dropped += sampling.dropped
    if sampling.temperature is not None:
        body["temperature"] = sampling.temperature
    if sampling.top_p is not None:
        body["top_p"] = sampling.top_p
    if request.stop_list:
        body["stop_sequences"] = request.stop_list
    if request.user is not None:
        body["metadata"] = {"user_id": request.user}
    _tools(request, thinking.on, body)
    output_config = _output_config(request, thinking.effort)
    if output_config:
        body["output_config"] = output_config
    stream = bool(request.stream)
    if stream:
        body["stream"] = True
    headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
    if target.api_key:
        headers["x-api-key"] = target.api_key
    return UpstreamRequest(
        url=endpoint(target.api_base),
        body=body,
        headers=headers,
        stream=stream,
        dropped_params=tuple(sorted(dropped)),
    )


def _tools(request: ChatCompletionRequest, thinking_on: bool, body: dict[str, Any]) -> None:
    if not request.tools:
        return  # tool_choice and parallel_tool_calls mean nothing without tools
    tools: list[dict[str, Any]] = []
    for tool in request.tools:
        fn = tool.function
        spec: dict[str, Any] = {
            "name": fn.name,
            "input_schema": fn.parameters or {"type": "object", "properties": {}},
        }
        if fn.description:
            spec["description"] = fn.description
        if fn.strict:
            spec["strict"] = True
        tools.append(spec)
    body["tools"] = tools
    choice = _tool_choice(request, thinking_on)
    if choice is not None:
        body["tool_choice"] = choice


def _tool_choice(request: ChatCompletionRequest, thinking_on: bool) -> dict[str, Any] | None:
    choice = request.tool_choice
    serial = request.parallel_tool_calls is False
    if choice is None and not serial:
        return None
    out: dict[str, Any]
    if choice is None or choice == "auto":
        out = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    else:
        out = {"type": "tool", "name": choice.function.name}
    claude.check_tool_choice(forced=out["type"] != "auto", thinking_on=thinking_on)
    if serial:
        out["disable_parallel_tool_use"] = True
    return out


def _output_config(request: ChatCompletionRequest, effort: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {} if effort is None else {"effort": effort}
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return config
    schema = fmt.json_schema.schema_ if fmt.json_schema is not None else None
    if fmt.type == "json_schema" and schema is not None:
        return config | {"format": {"type": "json_schema", "schema": schema}}
    raise UnsupportedParameterError(
        "This model's provider supports response_format only as json_schema with a schema.",
        param="response_format",
    )
