"""Dialect: Gemini generateContent and streamGenerateContent, for Google AI Studio (the
Gemini API, v1beta) and Vertex AI (v1).

References: https://ai.google.dev/api/generate-content (request, response, stream),
https://ai.google.dev/api/caching#Content (contents and parts),
https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference (Vertex
AI's same shapes at its own endpoint), https://ai.google.dev/gemini-api/docs/thinking and
https://ai.google.dev/gemini-api/docs/thought-signatures.

target.py   configure, endpoints (AI Studio, Vertex AI) and credentials (key, OAuth grant)
request.py  PARAMS, build_request: generationConfig, tools, toolConfig, thinking, safety
messages.py systemInstruction, contents, function calls/responses, images
calls.py    tool-call ids and the thought signatures they carry
response.py FINISH_REASONS, parts, usage map, parse_response
stream.py   stream state and events (shares response.py's maps)
errors.py   ERRORS, map_error (google.rpc.Status bodies)
"""

from __future__ import annotations

from gateway.providers.gemini.errors import ERRORS, map_error
from gateway.providers.gemini.messages import NEEDS_A_TURN
from gateway.providers.gemini.request import PARAMS, SAMPLING_DEFAULTS, build_request
from gateway.providers.gemini.response import FINISH_REASONS, parse_response
from gateway.providers.gemini.stream import (
    GeminiStreamState,
    finish_stream,
    new_stream_state,
    parse_stream_event,
)
from gateway.providers.gemini.target import configure

__all__ = [
    "ERRORS",
    "FINISH_REASONS",
    "NEEDS_A_TURN",
    "PARAMS",
    "SAMPLING_DEFAULTS",
    "GeminiStreamState",
    "build_request",
    "configure",
    "finish_stream",
    "map_error",
    "new_stream_state",
    "parse_response",
    "parse_stream_event",
]
