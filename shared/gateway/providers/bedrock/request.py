"""ChatCompletionRequest -> the Converse / ConverseStream REST request.

Beyond the name-level policy in PARAMS, some values have no Converse form and
are refused with a 400 naming the parameter (never dropped silently):
- temperature above 1 (Converse accepts 0..1);
- parallel_tool_calls=false (Converse cannot forbid parallel calls);
- tool_choice "none" when the conversation already holds tool calls or results
  (Bedrock then requires toolConfig, which lets the model call tools). With no
  tool history, "none" is honoured by not sending the tools at all;
- response_format json_object (Converse only constrains output to a schema);
- reasoning_effort for a model family without a documented Converse control.

Claude models follow Claude's own rules in providers/claude.py, the same the
Anthropic dialect applies, written in Converse's shape:
- maxTokens is always sent: the client's limit, else the deployment's, else the
  generation's default; budget thinking adds that default on top when no limit
  was given, and a limit caps the budget below itself (400 under the minimum).
- Before Claude 4.7, reasoning_effort becomes additionalModelRequestFields
  `{"thinking": {"type": "enabled", "budget_tokens": N}}`. From 4.7 on it is
  `{"thinking": {"type": "adaptive"}, "output_config": {"effort": ...}}`: the
  Anthropic request fields the Bedrock user guide gives for these models
  (https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html),
  which Converse passes through from additionalModelRequestFields. temperature
  and topP are dropped and named for 4.7 on. With thinking on, a temperature
  other than 1 or a topP below 0.95 is dropped and named, and a forced
  toolChoice is a 400.
- "none" sends nothing: extended thinking is off by default on Bedrock.
Amazon Nova 2: additionalModelRequestFields.reasoningConfig with maxReasoningEffort
low/medium/high (the Nova 2 user guide's "Extended thinking"). Other families take
maxTokens from the client only.
"""

from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gateway import errors
from gateway.providers import claude, params
from gateway.providers.bedrock.messages import has_tool_blocks, map_messages
from gateway.providers.spec import UpstreamRequest

if TYPE_CHECKING:
    from gateway.providers.bedrock.messages import Turn
    from gateway.providers.params import ParamTable
    from gateway.providers.spec import Target
    from gateway.schemas.openai import ChatCompletionRequest, Tool

PARAMS: ParamTable = MappingProxyType(dict(params.TRANSLATED_DEFAULTS))
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InferenceConfiguration.html:
# "The default value is the default value for the model that you are using."
SAMPLING_DEFAULTS: dict[str, Any] = {}


def configure(target: Target) -> Target:
    """LiteLLM's `bedrock/converse/<model>` names the Converse API, which is the one this
    dialect speaks; the model id is what follows. No api_base: the region's endpoint."""
    return dataclasses.replace(target, model=target.model.removeprefix("converse/"))


NOVA_EFFORTS: dict[str, str] = {"low": "low", "medium": "medium", "high": "high"}


def endpoint(target: Target) -> str:
    """api_base (LiteLLM's aws_bedrock_runtime_endpoint) or the regional endpoint."""
    if target.api_base:
        return target.api_base.rstrip("/")
    if not target.region:
        raise errors.InternalError("The Bedrock deployment has no AWS region configured.")
    return f"https://bedrock-runtime.{target.region}.amazonaws.com"


def url(target: Target, *, stream: bool) -> str:
    # botocore encodes the {modelId} label with only -._~ left bare, so ARNs and
    # inference-profile ids keep their ':' and '/' inside one path segment.
    operation = "converse-stream" if stream else "converse"
    return f"{endpoint(target)}/model/{quote(target.model, safe='')}/{operation}"


def build_request(request: ChatCompletionRequest, target: Target) -> UpstreamRequest:
    dropped = params.check(request, PARAMS)
    system, turns = map_messages(request.messages)
    body: dict[str, Any] = {"messages": turns}
    if system:
        body["system"] = system
    if claude.is_claude(target.model):
        inference, fields, thinking_on, more = _claude(request, target)
        dropped = tuple(sorted((*dropped, *more)))
    else:
        inference, fields = _inference(request), _reasoning(request, target.model)
        thinking_on = False
    _stops(request, inference)
    if inference:
        body["inferenceConfig"] = inference
    tool_config = _tool_config(request, turns, thinking_on=thinking_on)
    if tool_config:
        body["toolConfig"] = tool_config
    if fields:
        body["additionalModelRequestFields"] = fields
    output = _output_config(request)
    if output:
        body["outputConfig"] = output
    stream = bool(request.stream)
    headers = {"content-type": "application/json"}
    region = None
    if target.api_key:  # a Bedrock API key replaces SigV4
        headers["authorization"] = f"Bearer {target.api_key}"
    else:
        endpoint(target)  # fails early without a region
        region = target.region
    return UpstreamRequest(
        url=url(target, stream=stream),
        body=body,
        headers=headers,
        stream=stream,
        framing="eventstream",
        sigv4_region=region,
        dropped_params=dropped,
    )


def _claude(
    request: ChatCompletionRequest, target: Target
) -> tuple[dict[str, Any], dict[str, Any], bool, tuple[str, ...]]:
    """Return (inferenceConfig, additionalModelRequestFields, thinking on, dropped names)."""
    version = claude.model_version(target.model)
    thinking = claude.thinking(
        request.reasoning_effort, claude.output_limit(request, target), version
    )
    sampling = claude.sampling(
        request.temperature, request.top_p, version=version, thinking_on=thinking.on
    )
    inference: dict[str, Any] = {"maxTokens": thinking.max_tokens}
    if sampling.temperature is not None:
        inference["temperature"] = sampling.temperature
    if sampling.top_p is not None:
        inference["topP"] = sampling.top_p
    fields: dict[str, Any] = {}
    if thinking.on:  # "disabled" is Bedrock's default already
        fields["thinking"] = thinking.config
    if thinking.effort is not None:
        fields["output_config"] = {"effort": thinking.effort}
    return inference, fields, thinking.on, sampling.dropped


def _inference(request: ChatCompletionRequest) -> dict[str, Any]:
    """inferenceConfig for a model family without Claude's rules."""
    config: dict[str, Any] = {}
    if request.output_limit is not None:
        config["maxTokens"] = request.output_limit
    if request.temperature is not None:
        if request.temperature > 1:
            raise errors.InvalidRequestError(
                "temperature must be between 0 and 1 for this model's provider.",
                param="temperature",
            )
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    return config


def _stops(request: ChatCompletionRequest, inference: dict[str, Any]) -> None:
    stops = request.stop_list
    if any(not stop for stop in stops):
        raise errors.InvalidRequestError("Stop sequences must not be empty.", param="stop")
    if stops:
        inference["stopSequences"] = stops


def _reasoning(request: ChatCompletionRequest, model: str) -> dict[str, Any]:
    """additionalModelRequestFields for reasoning_effort on a model family other than Claude."""
    effort = request.reasoning_effort
    if effort is None or effort == "none":
        return {}
    # Base ids, cross-region profiles (us., global.) and foundation-model ARNs all
    # contain the vendor-qualified id; application inference profiles do not.
    if "amazon.nova-2" in model.lower() and effort in NOVA_EFFORTS:
        return {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": NOVA_EFFORTS[effort]}}
    raise errors.UnsupportedParameterError(
        f"reasoning_effort '{effort}' is not supported by this model's provider.",
        param="reasoning_effort",
    )


def _tool_config(
    request: ChatCompletionRequest, turns: list[Turn], *, thinking_on: bool
) -> dict[str, Any] | None:
    choice = request.tool_choice
    history = has_tool_blocks(turns)
    if not request.tools:
        if history:
            raise errors.InvalidRequestError(
                "This model's provider needs `tools` when the conversation holds tool "
                "calls or tool results.",
                param="tools",
            )
        if choice in (None, "none", "auto"):
            return None
        raise errors.InvalidRequestError("tool_choice needs `tools`.", param="tool_choice")
    if request.parallel_tool_calls is False:
        raise errors.UnsupportedParameterError(
            "parallel_tool_calls=false is not supported by this model's provider.",
            param="parallel_tool_calls",
        )
    if choice == "none":
        if history:
            raise errors.UnsupportedParameterError(
                "tool_choice 'none' is not supported by this model's provider once the "
                "conversation holds tool calls or tool results.",
                param="tool_choice",
            )
        return None
    forced = choice is not None and choice != "auto"
    claude.check_tool_choice(forced=forced, thinking_on=thinking_on)
    config: dict[str, Any] = {"tools": [_tool_spec(tool) for tool in request.tools]}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice is not None and choice != "auto":
        name = choice.function.name
        if all(tool.function.name != name for tool in request.tools):
            raise errors.InvalidRequestError(
                f"tool_choice names '{name}', which is not in `tools`.", param="tool_choice"
            )
        config["toolChoice"] = {"tool": {"name": name}}
    # "auto" is Converse's default; leaving toolChoice out keeps models that do
    # not accept toolChoice working.
    return config


def _tool_spec(tool: Tool) -> dict[str, Any]:
    function = tool.function
    schema = function.parameters or {"type": "object", "properties": {}}
    spec: dict[str, Any] = {"name": function.name, "inputSchema": {"json": schema}}
    if function.description:
        spec["description"] = function.description
    if function.strict:
        spec["strict"] = True
    return {"toolSpec": spec}


def _output_config(request: ChatCompletionRequest) -> dict[str, Any] | None:
    response_format = request.response_format
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        raise errors.UnsupportedParameterError(
            "response_format 'json_object' is not supported by this model's provider; "
            "use 'json_schema'.",
            param="response_format",
        )
    spec = response_format.json_schema
    if spec is None or spec.schema_ is None:
        raise errors.InvalidRequestError(
            "response_format 'json_schema' needs json_schema.schema.",
            param="response_format.json_schema",
        )
    definition: dict[str, Any] = {"schema": json.dumps(spec.schema_), "name": spec.name}
    if spec.description:
        definition["description"] = spec.description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}
