"""Claude's rules, shared by every dialect that reaches Claude (Anthropic Messages, Bedrock).

A dialect never imports another dialect, so what Claude itself demands, whichever
API carries the call, lives here as data and small pure functions; each dialect
only writes the decisions in its own wire shape.

- Generations are data: the version in the model id decides (`model_version`).
  From Claude 4.7 on (ADAPTIVE_FROM) models take only adaptive thinking
  (`thinking: adaptive` + `output_config.effort`) and reject temperature, top_p
  and top_k; before it thinking takes a token budget. An id without a version is
  treated as the older generation.
  (https://docs.anthropic.com/en/docs/build-with-claude/adaptive-thinking;
  https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html)
- `max_tokens`: the client's limit, else the deployment's, else the generation's
  default (DEFAULT_MAX_TOKENS). Thinking tokens count toward it, so a limit caps
  the budget below itself; without one the default room is added on top.
- With thinking on, the API accepts neither a modified temperature nor top_p
  below 0.95 (dropped and named), nor a forced tool choice (400).
- The usage map: Anthropic's usage JSON, which Bedrock's InvokeModel returns too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.errors import InvalidRequestError, UnsupportedParameterError
from gateway.providers.params import MIN_THINKING_BUDGET, THINKING_BUDGETS
from gateway.providers.spec import TokenUsage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.spec import Target
    from gateway.schemas.openai import ChatCompletionRequest

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

_ANCHOR = "claude-"


def is_claude(model: str) -> bool:
    """Anthropic ids, and Bedrock base ids, profiles (us., global.) and foundation-model ARNs.

    Application inference profiles hide the model and are not recognised.
    """
    lowered = model.lower()
    return lowered.startswith(_ANCHOR) or "anthropic.claude" in lowered


def model_version(model: str) -> Version | None:
    """(major, minor) from ids like claude-sonnet-4-5-20250929, claude-3-7-sonnet-latest,
    us.anthropic.claude-opus-4-7-v1:0 or arn:...:foundation-model/anthropic.claude-3-5-...

    Only the first run of one- or two-digit parts after `claude-` counts: an ARN's
    region and account, the snapshot date and Bedrock's `-v1:0` are not versions.
    """
    lowered = model.lower()
    if _ANCHOR not in lowered:
        return None
    numbers: list[int] = []
    for part in lowered.rpartition(_ANCHOR)[2].split("-"):
        if part.isascii() and part.isdigit() and len(part) <= 2:
            numbers.append(int(part))
        elif numbers:
            break
    if not numbers:
        return None
    return numbers[0], numbers[1] if len(numbers) > 1 else 0


def is_adaptive(version: Version | None) -> bool:
    return version is not None and version >= ADAPTIVE_FROM


def default_max_tokens(version: Version | None) -> int:
    if version is None:
        return UNVERSIONED_MAX_TOKENS
    for below, tokens in DEFAULT_MAX_TOKENS:
        if version < below:
            return tokens
    return ADAPTIVE_MAX_TOKENS


def output_limit(request: ChatCompletionRequest, target: Target) -> int | None:
    """The client's limit, else the deployment's configured one (litellm_params.max_tokens)."""
    if request.output_limit:
        return request.output_limit
    configured = target.extra.get("max_tokens")
    return configured if isinstance(configured, int) and configured > 0 else None


@dataclass(frozen=True, slots=True)
class Thinking:
    """The thinking decision: what to send as max_tokens, `thinking` and `output_config.effort`."""

    max_tokens: int
    config: dict[str, Any] | None = None  # the `thinking` object; None sends none
    effort: str | None = None

    @property
    def on(self) -> bool:
        return self.config is not None and self.config["type"] != "disabled"


def thinking(effort: str | None, limit: int | None, version: Version | None) -> Thinking:
    """Budget or adaptive thinking for `reasoning_effort`, given the limit and the generation."""
    if is_adaptive(version):
        return _adaptive(effort, limit, version)
    return _budget(effort, limit, version)


def _adaptive(effort: str | None, limit: int | None, version: Version | None) -> Thinking:
    max_tokens = limit or default_max_tokens(version)
    if effort is None or effort == "none":
        return Thinking(max_tokens)  # not every such model can disable thinking
    return Thinking(max_tokens, {"type": "adaptive"}, EFFORTS[effort])


def _budget(effort: str | None, limit: int | None, version: Version | None) -> Thinking:
    if effort is None or effort == "none":
        config = None if effort is None else {"type": "disabled"}
        return Thinking(limit or default_max_tokens(version), config)
    budget = THINKING_BUDGETS[effort]
    if limit is None:
        limit = budget + default_max_tokens(version)
    budget = min(budget, limit - 1)
    if budget < MIN_THINKING_BUDGET:
        raise InvalidRequestError(
            f"reasoning_effort needs max_tokens above {MIN_THINKING_BUDGET} "
            "with this model's provider.",
            param="reasoning_effort",
        )
    return Thinking(limit, {"type": "enabled", "budget_tokens": budget})


@dataclass(frozen=True, slots=True)
class Sampling:
    """The sampling values to send (None: not sent) and the names dropped."""

    temperature: float | None
    top_p: float | None
    dropped: tuple[str, ...]


def sampling(
    temperature: float | None, top_p: float | None, *, version: Version | None, thinking_on: bool
) -> Sampling:
    """Keep temperature and top_p where the generation and thinking allow them; drop the rest."""
    if temperature is not None and temperature > 1:
        raise InvalidRequestError(
            "temperature must be between 0 and 1 for this model's provider.",
            param="temperature",
        )
    allowed = not is_adaptive(version)
    dropped: list[str] = []
    if temperature is not None and (not allowed or (thinking_on and temperature != 1)):
        dropped.append("temperature")
        temperature = None
    if top_p is not None and (not allowed or (thinking_on and top_p < THINKING_MIN_TOP_P)):
        dropped.append("top_p")
        top_p = None
    return Sampling(temperature, top_p, tuple(dropped))


def check_tool_choice(*, forced: bool, thinking_on: bool) -> None:
    """With thinking on, Claude takes tool_choice auto or none only."""
    if forced and thinking_on:
        raise UnsupportedParameterError(
            "A forced tool_choice cannot be combined with reasoning_effort "
            "for this model's provider.",
            param="tool_choice",
        )


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


def token_usage(raw: Mapping[str, Any]) -> TokenUsage:
    """Anthropic's input_tokens excludes cache reads and writes; ours includes them."""
    fresh = _count(raw.get("input_tokens"))
    read = _count(raw.get("cache_read_input_tokens"))
    written = _count(raw.get("cache_creation_input_tokens"))
    details = raw.get("output_tokens_details")
    thinking_tokens = details.get("thinking_tokens") if isinstance(details, dict) else None
    return TokenUsage(
        input_tokens=fresh + read + written,
        output_tokens=_count(raw.get("output_tokens")),
        cache_read_tokens=read,
        cache_write_tokens=written,
        reasoning_tokens=_count(thinking_tokens),
    )
