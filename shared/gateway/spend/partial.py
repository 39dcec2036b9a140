"""The usage of a stream that ended early: the client left, or the provider failed midway.

Providers report usage at the end of a stream (OpenAI's usage chunk, Bedrock's metadata
event, Anthropic's message_delta; Anthropic's message_start also gives the input). A
stream cut before that has consumed tokens the provider bills anyway, so the gateway
charges what it can tell: the provider's partial usage where there is one, else the
prompt at ~4 bytes per token and one token per chunk relayed (providers stream about a
token per chunk), never more output than the request allowed (`max_tokens` x `n`, which
its budget reservation covered). Such usage is flagged `usage_estimated` in the spend
event.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import orjson

from gateway.providers.spec import TokenUsage

if TYPE_CHECKING:
    from gateway.schemas.openai import ChatCompletionRequest

BYTES_PER_TOKEN = 4


def prompt_estimate(request: ChatCompletionRequest) -> int:
    """Input tokens of the prompt, estimated from its size (messages and tools)."""
    data = request.model_dump(include={"messages", "tools"}, exclude_none=True)
    return math.ceil(len(orjson.dumps(data)) / BYTES_PER_TOKEN)


def cut_stream_usage(
    request: ChatCompletionRequest, reported: TokenUsage | None, chunks: int
) -> TokenUsage | None:
    """The usage to charge for a stream that did not finish; None if nothing was produced."""
    if reported is None and chunks == 0:
        return None
    reported = reported or TokenUsage()
    output = max(reported.output_tokens, chunks)
    limits = [limit for limit in (request.max_tokens, request.max_completion_tokens) if limit]
    if limits:
        output = min(output, max(limits) * (request.n or 1))
    return TokenUsage(
        input_tokens=reported.input_tokens or prompt_estimate(request),
        output_tokens=output,
        cache_read_tokens=reported.cache_read_tokens,
        cache_write_tokens=reported.cache_write_tokens,
        reasoning_tokens=reported.reasoning_tokens,
    )
