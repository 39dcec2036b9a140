"""POST /v1/messages/count_tokens: the provider's own count where it has one.

Claude deployments answer natively (Anthropic's count_tokens, Bedrock's
CountTokens), first in the group's configured order. A group without one, or
whose count the provider refused or failed, gets the gateway's estimate instead
(answered with `x-gateway-token-count: estimated`): UTF-8 bytes of the prompt's
text over BYTES_PER_TOKEN, plus IMAGE_TOKENS per image or document. Counting is
free at Anthropic and Bedrock, so it is neither rate limited nor charged here.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.messages.native import native_api
from gateway.providers import transport
from gateway.providers.dialects import dialect
from gateway.router.prompt import text_bytes

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.config import Deployment

logger = logging.getLogger(__name__)

BYTES_PER_TOKEN = 4  # English prose in Claude's and GPT's vocabularies, on average
IMAGE_TOKENS = 1600  # Claude's cost of an image at its default maximum size
_NOT_TEXT = frozenset({"type", "role", "source", "id", "tool_use_id", "cache_control"})
_MEDIA = frozenset({"image", "document"})


def estimate(body: Mapping[str, Any]) -> int:
    prompt = {key: body.get(key) for key in ("system", "messages", "tools")}
    media = sum(1 for block in _blocks(body.get("messages")) if block.get("type") in _MEDIA)
    return math.ceil(text_bytes(prompt, _NOT_TEXT) / BYTES_PER_TOKEN) + media * IMAGE_TOKENS


def _blocks(messages: object) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict):
                blocks.append(block)
                blocks.extend(_blocks([block]))  # tool_result blocks hold content too
    return blocks


async def count(
    body: Mapping[str, Any], betas: Sequence[str], deployments: Sequence[Deployment]
) -> tuple[int, bool]:
    """(input tokens, whether they are the gateway's estimate)."""
    for deployment in deployments:
        target = deployment.target
        api = native_api(target)
        if api is None:
            continue
        upstream = api.build_count_request(body, target, betas=betas)
        try:
            raw = await transport.send(upstream, target.timeout_s)
            if raw.status < 400:
                return api.count_from(raw.body), False
            error = dialect(target.dialect).map_error(raw.status, raw.body, raw.headers)
        except errors.GatewayError as exc:
            error = exc
        # The body passed our validation: a refusal is most likely the model's (Bedrock
        # counts for some models and ids only), and an estimate serves the client better.
        logger.warning("token count failed upstream (%s); estimated", error.code)
        break
    return estimate(body), True
