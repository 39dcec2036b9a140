"""Where a request goes when a model group cannot serve it: the fallback chains, and the
deployments too small for its prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway import errors
from gateway.router import retries
from gateway.router.prompt import prompt_tokens_at_least

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gateway.config import Deployment, GatewayConfig
    from gateway.router.engine import RouteRequest
    from gateway.router.settings import RouterSettings
    from gateway.schemas.openai import ChatCompletionRequest


def fitting(deployments: Sequence[Deployment], request: ChatCompletionRequest) -> list[Deployment]:
    """Deployments whose max_input_tokens the prompt does not provably exceed."""
    limits = [d.info.max_input_tokens for d in deployments if d.info.max_input_tokens]
    if not limits:
        return list(deployments)
    least = prompt_tokens_at_least(request)
    fits = [
        d
        for d in deployments
        if d.info.max_input_tokens is None or least <= d.info.max_input_tokens
    ]
    if not fits:
        raise errors.ContextLengthError(
            "The prompt is longer than this model's context window.", param="messages"
        )
    return fits


def renamed(request: ChatCompletionRequest, group: str) -> ChatCompletionRequest:
    return request.model_copy(update={"model": group})


def next_group(
    error: errors.GatewayError,
    group: str,
    settings: RouterSettings,
    route: RouteRequest,
    config: GatewayConfig,
    tried: set[str],
    allows: Callable[[str], bool],
) -> str | None:
    """The next model group to try after `group` failed with `error`, if any."""
    kind = retries.classify(error).fallback
    if kind == "context_window":
        chain = settings.context_window_fallbacks.get(group, ())
    elif kind == "content_policy":
        chain = settings.content_policy_fallbacks.get(group, ())
    elif kind == "generic" or isinstance(error, errors.ServiceUnavailableError):
        chain = route.fallbacks or settings.fallbacks.get(group) or settings.default_fallbacks
    else:
        return None
    for name in chain:
        if name not in tried and name in config.groups and allows(name):
            return name
    return None
