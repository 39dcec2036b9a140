"""ChatCompletionRequest -> POST {api_base}/v1/messages (anthropic-version 2023-06-01).

Decisions a reader could not guess:
- `max_tokens` is required upstream. Without a client limit we send the
  deployment's `litellm_params.max_tokens`, else the default for the model's
  generation (DEFAULT_MAX_TOKENS).
- Model generations are data: the version in the model id decides. From
  Claude 4.7 on (ADAPTIVE_FROM), models take only adaptive thinking
  (`thinking: adaptive` + `output_config.effort`) and reject temperature,
  top_p and top_k; before it, thinking takes a token budget. An id without a
  version is treated as the older generation.
- Budget thinking: `reasoning_effort` maps to THINKING_BUDGETS (LiteLLM's
  budgets raised to the API's 1024 floor); "none" disables thinking. Thinking
  tokens count toward `max_tokens`, so a client limit caps the budget
  (budget < max_tokens); without one, the default room is added on top.
- With thinking on, the API accepts neither a modified temperature nor top_p
  below 0.95 (dropped and named), nor a forced tool choice (400).
- `response_format` json_schema becomes structured outputs
  (`output_config.format`); json_object has no faithful equivalent (400).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.errors import InvalidRequestError, UnsupportedParameterError
from gateway.providers import params
from gateway.providers.anthropic.messages import map_messages
from gateway.providers.params import Support
from gateway.providers.spec import UpstreamRequest

if TYPE_CHECKING:
    from gateway.providers.params import ParamTable
    from gateway.providers.spec import Target
    from gateway.schemas.openai import ChatCompletionRequest

API_VERSION = "2023-06-01"

PARAMS: ParamTable = {
    **params.TRANSLATED_DEFAULTS,
    "user": Support.MAPPED,  # -> metadata.user_id
}

Version = tuple[int, int]

ADAPTIVE_FROM: Version = (4, 7)

# (models below this version, their default max_tokens); the first match wins.
DEFAULT_MAX_TOKENS: tuple[tuple[Version, int], ...] = (
    ((3, 5), 4096),  # Claude 3 Haiku / Sonnet / Opus: 4096 is their ceiling
    (ADAPTIVE_FROM, 8192),
)
ADAPTIVE_MAX_TOKENS = 16384  # adaptive thinking spends from max_tokens too
UNVERSIONED_MAX_TOKENS = 8192

THINKING_MIN_TOP_P = 0.95

# reasoning_effort -> output_config.effort, for adaptive thinking.
EFFORTS: dict[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
}


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
    adaptive = version is not None and version >= ADAPTIVE_FROM
    think = _adaptive_thinking if adaptive else _budget_thinking
    max_tokens, thinking, effort = think(request, _limit(request, target), version)
    body: dict[str, Any] = {"model": target.model, "max_tokens": max_tokens, "messages": messages}
    if system:
        body["system"] = system
    if thinking is not None:
        body["thinking"] = thinking
    thinking_on = thinking is not None and thinking["type"] != "disabled"
    dropped += _sampling(request, body, sampling=not adaptive, thinking_on=thinking_on)
    if request.stop_list:
        body["stop_sequences"] = request.stop_list
    if request.user is not None:
        body["metadata"] = {"user_id": request.user}
    _tools(request, thinking_on, body)
    output_config = _output_config(request, effort)
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


def model_version(model: str) -> Version | None:
    """(major, minor) from ids like claude-sonnet-4-5-20250929 or claude-3-7-sonnet-latest."""
    numbers = [int(part) for part in model.split("-") if part.isdigit() and len(part) <= 2]
    if not numbers:
        return None
    return numbers[0], numbers[1] if len(numbers) > 1 else 0


def default_max_tokens(version: Version | None) -> int:
    if version is None:
        return UNVERSIONED_MAX_TOKENS
    for below, tokens in DEFAULT_MAX_TOKENS:
        if version < below:
            return tokens
    return ADAPTIVE_MAX_TOKENS


def _limit(request: ChatCompletionRequest, target: Target) -> int | None:
    """The client's limit, else the deployment's configured one."""
    if request.output_limit:
        return request.output_limit
    configured = target.extra.get("max_tokens")
    return configured if isinstance(configured, int) and configured > 0 else None


# Each returns (max_tokens, thinking config or None, output_config effort or None).
Thinking = tuple[int, dict[str, Any] | None, str | None]


def _adaptive_thinking(
    request: ChatCompletionRequest, limit: int | None, version: Version | None
) -> Thinking:
    max_tokens = limit or default_max_tokens(version)
    effort = request.reasoning_effort
    if effort is None or effort == "none":
        return max_tokens, None, None  # not every such model can disable thinking
    return max_tokens, {"type": "adaptive"}, EFFORTS[effort]


def _budget_thinking(
    request: ChatCompletionRequest, limit: int | None, version: Version | None
) -> Thinking:
    effort = request.reasoning_effort
    if effort is None or effort == "none":
        thinking = None if effort is None else {"type": "disabled"}
        return limit or default_max_tokens(version), thinking, None
    budget = params.THINKING_BUDGETS[effort]
    if limit is None:
        limit = budget + default_max_tokens(version)
    budget = min(budget, limit - 1)
    if budget < params.MIN_THINKING_BUDGET:
        raise InvalidRequestError(
            f"reasoning_effort needs max_tokens above {params.MIN_THINKING_BUDGET} "
            "with this model's provider.",
            param="reasoning_effort",
        )
    return limit, {"type": "enabled", "budget_tokens": budget}, None


def _sampling(
    request: ChatCompletionRequest, body: dict[str, Any], *, sampling: bool, thinking_on: bool
) -> list[str]:
    """Set temperature and top_p; return the names the model or thinking forbids (dropped)."""
    dropped: list[str] = []
    temperature = request.temperature
    if temperature is not None:
        if temperature > 1:
            raise InvalidRequestError(
                "temperature must be between 0 and 1 for this model's provider.",
                param="temperature",
            )
        if not sampling or (thinking_on and temperature != 1):
            dropped.append("temperature")
        else:
            body["temperature"] = temperature
    if request.top_p is not None:
        if not sampling or (thinking_on and request.top_p < THINKING_MIN_TOP_P):
            dropped.append("top_p")
        else:
            body["top_p"] = request.top_p
    return dropped


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
    if thinking_on and out["type"] != "auto":
        raise UnsupportedParameterError(
            "A forced tool_choice cannot be combined with reasoning_effort "
            "for this model's provider.",
            param="tool_choice",
        )
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
