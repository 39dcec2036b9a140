"""Dialect: Amazon Bedrock Runtime Converse and ConverseStream (REST JSON, API 2023-09-30).

References:
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html,
and botocore's `bedrock-runtime` service model, against which the tests validate
every outbound body.

The dialect builds the REST request and parses JSON; the transport signs it
(SigV4, service "bedrock") and decodes the AWS event stream into UpstreamEvents.

request.py  PARAMS, build_request: endpoint, inference, tools, reasoning, output format
messages.py system prompt, turn alternation, tool calls/results, inline images
response.py FINISH_REASONS, usage map, parse_response
stream.py   stream state and events (shares response.py's maps)
errors.py   ERRORS, map_error, in-stream exception events
"""

from __future__ import annotations

from gateway.providers.bedrock.errors import ERRORS, map_error
from gateway.providers.bedrock.messages import NEEDS_A_TURN
from gateway.providers.bedrock.request import PARAMS, SAMPLING_DEFAULTS, build_request, configure
from gateway.providers.bedrock.response import FINISH_REASONS, parse_response
from gateway.providers.bedrock.stream import (
    BedrockStreamState,
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
    "BedrockStreamState",
    "build_request",
    "configure",
    "finish_stream",
    "map_error",
    "new_stream_state",
    "parse_response",
    "parse_stream_event",
]
