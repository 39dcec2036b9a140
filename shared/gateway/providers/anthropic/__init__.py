"""Dialect: Anthropic Messages API (POST /v1/messages, anthropic-version 2023-06-01).

Reference: https://docs.anthropic.com/en/api/messages and
https://docs.anthropic.com/en/docs/build-with-claude/streaming; request shapes
are checked against the anthropic SDK's MessageCreateParams types in tests.

request.py  PARAMS, build_request: the request mapping and its policy decisions
messages.py system prompt, turn alternation, tool calls/results, images
response.py FINISH_REASONS, usage map, parse_response
stream.py   stream state and events (shares response.py's maps)
errors.py   ERRORS, map_error
"""

from __future__ import annotations

from gateway.providers.anthropic.errors import ERRORS, map_error
from gateway.providers.anthropic.messages import NEEDS_A_TURN
from gateway.providers.anthropic.request import PARAMS, SAMPLING_DEFAULTS, build_request, configure
from gateway.providers.anthropic.response import FINISH_REASONS, parse_response
from gateway.providers.anthropic.stream import (
    AnthropicStreamState,
    finish_stream,
    new_stream_state,
    parse_stream_event,
)

__all__ = [
    "ERRORS",
    "FINISH_REASONS",
    "NEEDS_A_TURN",
    "PARAMS",
    "SAMPLING_DEFAULTS",
    "AnthropicStreamState",
    "build_request",
    "configure",
    "finish_stream",
    "map_error",
    "new_stream_state",
    "parse_response",
    "parse_stream_event",
]
