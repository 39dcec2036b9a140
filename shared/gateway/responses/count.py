"""POST /v1/responses/input_tokens: the provider's own count where it has one.

OpenAI counts a Responses body itself (POST /responses/input_tokens, with the stored
conversation replayed as for a create). Claude deployments count the request's
Anthropic form (the anthropic dialect's translation of its chat view) through the
Messages API's count (gateway/messages/count.py). Any other group, or a count the
provider refused, gets the gateway's estimate, answered with
`x-gateway-token-count: estimated`. Counting is free upstream, so it is neither
rate limited nor charged here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.messages import count as messages_count
from gateway.messages.native import native_api
from gateway.providers import transport
from gateway.providers.dialects import dialect
from gateway.responses import native

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.config import Deployment
    from gateway.schemas.openai import ChatCompletionRequest

logger = logging.getLogger(__name__)


async def count(
    body: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    chat: ChatCompletionRequest,
    deployments: Sequence[Deployment],
) -> tuple[int, bool]:
    """(input tokens, whether they are the gateway's estimate)."""
    for deployment in deployments:
        target = deployment.target
        if native.is_native(target):
            upstream = native.build_count_request(body, history, target)
            try:
                raw = await transport.send(upstream, target.timeout_s)
                if raw.status < 400:
                    return native.count_from(raw.body), False
                error = dialect(target.dialect).map_error(raw.status, raw.body, raw.headers)
            except errors.GatewayError as exc:
                error = exc
            logger.warning("token count failed upstream (%s); estimated", error.code)
            break
        if native_api(target) is not None:
            try:
                claude_body = dialect("anthropic").build_request(chat, target).body
            except errors.GatewayError:
                break
            return await messages_count.count(claude_body, (), [deployment])
    return estimate(chat), True


def estimate(chat: ChatCompletionRequest) -> int:
    dumped = chat.model_dump(exclude_none=True, include={"messages", "tools"})
    return messages_count.estimate(dumped)
