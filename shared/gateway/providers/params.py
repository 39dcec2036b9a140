"""The one declared policy for request parameters.

- OpenAI-compatible upstreams get every parameter, known or not (passthrough).
- Translated dialects name each OpenAI parameter in a table:
  MAPPED (translated), DROPPED (a sampling knob the provider lacks: removed and
  named in the `x-gateway-dropped-params` response header) or REJECTED (a
  structural feature it cannot represent: 400 naming the parameter).
  A parameter a translated dialect does not list is REJECTED.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gateway.errors import UnsupportedParameterError

if TYPE_CHECKING:
    from gateway.schemas.openai import ChatCompletionRequest


class Support(enum.Enum):
    MAPPED = "mapped"
    DROPPED = "dropped"
    REJECTED = "rejected"


ParamTable = Mapping[str, Support]

# Fields every dialect handles itself (identity and framing of the call).
ALWAYS = frozenset({"model", "messages", "stream", "stream_options"})

M, D, R = Support.MAPPED, Support.DROPPED, Support.REJECTED

# What a translated dialect typically cannot do; dialects start from this.
TRANSLATED_DEFAULTS: dict[str, Support] = {
    "temperature": M,
    "top_p": M,
    "max_tokens": M,
    "max_completion_tokens": M,
    "stop": M,
    "n": M,  # n=1 only; n>1 is checked below
    "user": D,
    "seed": D,
    "frequency_penalty": D,
    "presence_penalty": D,
    "logit_bias": D,
    "service_tier": D,
    "store": D,
    "metadata": D,
    "prompt_cache_key": D,
    "safety_identifier": D,
    "verbosity": D,
    "tools": M,
    "tool_choice": M,
    "parallel_tool_calls": M,
    "response_format": M,
    "reasoning_effort": M,
    "logprobs": R,
    "top_logprobs": R,
    "modalities": R,
    "audio": R,
    "prediction": R,
    "web_search_options": R,
    "functions": R,
    "function_call": R,
}


def check(request: ChatCompletionRequest, table: ParamTable | None) -> tuple[str, ...]:
    """Apply the policy; return the dropped parameter names (sorted).

    `table` None means passthrough (an OpenAI-compatible upstream).
    """
    if table is None:
        return ()
    dropped: list[str] = []
    present = set(request.model_fields_set)
    if request.model_extra:
        present.update(request.model_extra)
    for name in sorted(present - ALWAYS):
        if getattr(request, name, None) is None:
            continue
        support = table.get(name, Support.REJECTED)
        if support is Support.REJECTED:
            raise UnsupportedParameterError(
                f"'{name}' is not supported by this model's provider.", param=name
            )
        if support is Support.DROPPED:
            dropped.append(name)
    if request.n is not None and request.n > 1:
        raise UnsupportedParameterError(
            "Only n=1 is supported by this model's provider.", param="n"
        )
    return tuple(dropped)


def unsupported_part(part_type: str, param: str) -> UnsupportedParameterError:
    """A content part a translated dialect cannot carry: one error for every dialect."""
    return UnsupportedParameterError(
        f"Content parts of type '{part_type}' are not supported here by this model's provider.",
        param=param,
    )


# reasoning_effort -> thinking budget tokens, for Claude models that take a budget (the
# Messages API directly, or through Bedrock); providers/claude.py applies them. LiteLLM's
# budgets, raised to the API's 1024-token floor.
THINKING_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 1024,
    "medium": 2048,
    "high": 4096,
    "xhigh": 8192,
}
MIN_THINKING_BUDGET = 1024
