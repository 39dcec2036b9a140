"""ChatCompletionRequest -> a GenerateContentRequest (https://ai.google.dev/api/generate-content).

Parameters (generationConfig unless said otherwise):
- max_tokens / max_completion_tokens -> maxOutputTokens (else the deployment's
  litellm_params.max_tokens; else none: Gemini's own limit);
- temperature -> temperature, top_p -> topP, top_k (LiteLLM's) -> topK, stop (string or
  list) -> stopSequences, seed -> seed, presence_penalty -> presencePenalty,
  frequency_penalty -> frequencyPenalty; n: 1 only (the policy refuses more);
- response_format json_object -> responseMimeType application/json; json_schema ->
  that and responseJsonSchema, which takes JSON Schema as it is (the older
  responseSchema takes an OpenAPI subset that would need rewriting);
- tools -> one Tool of functionDeclarations whose parametersJsonSchema is the
  function's JSON Schema unchanged (Google: "Describes the parameters to the function
  in JSON Schema format", the alternative to the OpenAPI `parameters`). `strict` has
  no Gemini equivalent and is not sent;
- tool_choice -> toolConfig.functionCallingConfig.mode: auto AUTO, none NONE,
  required ANY, a named function ANY with allowedFunctionNames [name]
  (https://ai.google.dev/gemini-api/docs/function-calling#function_calling_modes);
  parallel_tool_calls=false has no Gemini control: 400;
- reasoning_effort -> thinkingConfig {thinkingBudget, includeThoughts: true} with
  LiteLLM's budgets for Gemini (litellm/constants.py: low 1024, medium 2048, high 4096)
  and its xhigh 8192; "minimal" is 512, the smallest budget every Gemini 2.5 model
  accepts (2.5 Flash-Lite's floor; LiteLLM picks 1/128/512 per model); "none" ->
  thinkingBudget 0 (2.5 Pro refuses it, as Google documents; the 400 is passed on).
  Gemini 3 models take thinkingBudget too, for backwards compatibility
  (https://ai.google.dev/gemini-api/docs/thinking);
- thinking (LiteLLM's Anthropic-style extension) {"type": "enabled", "budget_tokens": N}
  -> thinkingBudget N with includeThoughts; {"type": "disabled"} -> thinkingBudget 0.
  Sending it with reasoning_effort is a 400;
- safety_settings (LiteLLM's name) -> safetySettings, a list of {category, threshold}
  (and Vertex AI's method) passed on as given
  (https://ai.google.dev/gemini-api/docs/safety-settings);
- user, logit_bias and the other sampling knobs without a Gemini field are dropped
  and named; logprobs, audio and the rest of the structural features are refused.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import params
from gateway.providers.gemini.messages import map_messages
from gateway.providers.gemini.target import auth, url
from gateway.providers.params import Support
from gateway.providers.spec import UpstreamRequest

if TYPE_CHECKING:
    from gateway.providers.params import ParamTable
    from gateway.providers.spec import Target
    from gateway.schemas.openai import ChatCompletionRequest, Tool

PARAMS: ParamTable = MappingProxyType(
    {
        **params.TRANSLATED_DEFAULTS,
        "seed": Support.MAPPED,
        "presence_penalty": Support.MAPPED,
        "frequency_penalty": Support.MAPPED,
        "top_k": Support.MAPPED,
        "thinking": Support.MAPPED,
        "safety_settings": Support.MAPPED,
    }
)
# Gemini's defaults differ by model (temperature 1.0 on 2.5 and 3, 0.9 or 0.4 on older
# ones; topP and topK likewise): https://ai.google.dev/gemini-api/docs/models and the
# Model resource's temperature/topP/topK ("Defaults to the model's ..."). None is
# documented for every model, so the cache assumes none.
SAMPLING_DEFAULTS: dict[str, Any] = {}

THINKING_BUDGETS: dict[str, int] = {
    "minimal": 512,
    "low": 1024,
    "medium": 2048,
    "high": 4096,
    "xhigh": 8192,
}

MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
SAFETY_FIELDS = frozenset({"category", "threshold", "method"})


def build_request(request: ChatCompletionRequest, target: Target) -> UpstreamRequest:
    dropped = params.check(request, PARAMS)
    system, contents = map_messages(request.messages, target.model)
    body: dict[str, Any] = {"contents": contents}
    if system is not None:
        body["systemInstruction"] = system
    tools, tool_config = _tools(request)
    if tools is not None:
        body["tools"] = tools
    if tool_config is not None:
        body["toolConfig"] = tool_config
    safety = _safety_settings(request)
    if safety is not None:
        body["safetySettings"] = safety
    config = _generation_config(request, target)
    if config:
        body["generationConfig"] = config
    headers, grant = auth(target)
    stream = bool(request.stream)
    return UpstreamRequest(
        url=url(target, stream=stream),
        body=body,
        headers={"content-type": "application/json", **headers},
        stream=stream,
        oauth=grant,
        dropped_params=dropped,
    )


def _extra(request: ChatCompletionRequest, name: str) -> Any:
    return (request.model_extra or {}).get(name)


def _number(request: ChatCompletionRequest, name: str, *, integer: bool = False) -> Any:
    value = _extra(request, name)
    kinds = (int,) if integer else (int, float)
    if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
        kind = "an integer" if integer else "a number"
        raise errors.InvalidRequestError(f"{name} must be {kind}.", param=name)
    return value


def _generation_config(request: ChatCompletionRequest, target: Target) -> dict[str, Any]:
    config: dict[str, Any] = {}
    limit = request.output_limit or target.extra.get("max_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        config["maxOutputTokens"] = limit
    sampling = {
        "temperature": request.temperature,
        "topP": request.top_p,
        "topK": _number(request, "top_k", integer=True),
        "seed": request.seed,
        "presencePenalty": _number(request, "presence_penalty"),
        "frequencyPenalty": _number(request, "frequency_penalty"),
    }
    config.update({name: value for name, value in sampling.items() if value is not None})
    if request.stop_list:
        config["stopSequences"] = request.stop_list
    config.update(_output_format(request))
    thinking = _thinking(request)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _output_format(request: ChatCompletionRequest) -> dict[str, Any]:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return {}
    if fmt.type == "json_object":
        return {"responseMimeType": "application/json"}
    if fmt.json_schema is None or fmt.json_schema.schema_ is None:
        raise errors.InvalidRequestError(
            "response_format 'json_schema' needs json_schema.schema.",
            param="response_format.json_schema",
        )
    return {"responseMimeType": "application/json", "responseJsonSchema": fmt.json_schema.schema_}


def _thinking(request: ChatCompletionRequest) -> dict[str, Any] | None:
    effort = request.reasoning_effort
    raw = _extra(request, "thinking")
    if effort is not None and raw is not None:
        raise errors.InvalidRequestError(
            "Send reasoning_effort or thinking, not both.", param="thinking"
        )
    if effort is not None:
        if effort == "none":
            return {"thinkingBudget": 0}
        return {"thinkingBudget": THINKING_BUDGETS[effort], "includeThoughts": True}
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    budget = raw.get("budget_tokens") if isinstance(raw, dict) else None
    valid_budget = budget is None or (
        isinstance(budget, int) and not isinstance(budget, bool) and budget >= 0
    )
    if kind not in ("enabled", "disabled") or not valid_budget:
        raise errors.InvalidRequestError(
            'thinking must be {"type": "enabled", "budget_tokens": N} or {"type": "disabled"}.',
            param="thinking",
        )
    if kind == "disabled":
        return {"thinkingBudget": 0}
    config: dict[str, Any] = {"includeThoughts": budget != 0}
    if budget is not None:
        config["thinkingBudget"] = budget
    return config


def _tools(
    request: ChatCompletionRequest,
) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    choice = request.tool_choice
    if not request.tools:
        if choice in (None, "none", "auto"):
            return None, None
        raise errors.InvalidRequestError("tool_choice needs `tools`.", param="tool_choice")
    if request.parallel_tool_calls is False:
        raise errors.UnsupportedParameterError(
            "parallel_tool_calls=false is not supported by this model's provider.",
            param="parallel_tool_calls",
        )
    tools = [{"functionDeclarations": [_declaration(tool) for tool in request.tools]}]
    if choice is None:
        return tools, None
    if isinstance(choice, str):
        calling: dict[str, Any] = {"mode": MODES[choice]}
    else:
        name = choice.function.name
        if all(tool.function.name != name for tool in request.tools):
            raise errors.InvalidRequestError(
                f"tool_choice names '{name}', which is not in `tools`.", param="tool_choice"
            )
        calling = {"mode": "ANY", "allowedFunctionNames": [name]}
    return tools, {"functionCallingConfig": calling}


def _declaration(tool: Tool) -> dict[str, Any]:
    function = tool.function
    declaration: dict[str, Any] = {"name": function.name}
    if function.description:
        declaration["description"] = function.description
    if function.parameters is not None:
        declaration["parametersJsonSchema"] = function.parameters
    return declaration


def _safety_settings(request: ChatCompletionRequest) -> list[dict[str, str]] | None:
    raw = _extra(request, "safety_settings")
    if raw is None:
        return None
    valid = isinstance(raw, list) and all(
        isinstance(item, dict)
        and isinstance(item.get("category"), str)
        and isinstance(item.get("threshold"), str)
        and set(item) <= SAFETY_FIELDS
        and all(isinstance(value, str) for value in item.values())
        for item in raw
    )
    if not valid:
        raise errors.InvalidRequestError(
            "safety_settings must be a list of {category, threshold} objects.",
            param="safety_settings",
        )
    return [dict(item) for item in raw]
