"""A translated Messages request's refusals name the fields the client sent."""

from __future__ import annotations

import pytest

from gateway import errors
from gateway.messages.call import in_messages_terms


@pytest.mark.parametrize(
    ("error", "param", "message"),
    [
        (
            errors.UnsupportedParameterError(
                "reasoning_effort 'low' is not supported.", param="reasoning_effort"
            ),
            "thinking",
            "'thinking' cannot be honoured by this model's provider.",
        ),
        (
            errors.UnsupportedParameterError(
                "parallel_tool_calls=false is not supported.", param="parallel_tool_calls"
            ),
            "tool_choice.disable_parallel_tool_use",
            "'tool_choice.disable_parallel_tool_use' cannot be honoured by this model's provider.",
        ),
        (
            errors.InvalidRequestError("Stop sequences must not be empty.", param="stop"),
            "stop_sequences",
            "Stop sequences must not be empty.",
        ),
        (
            errors.InvalidRequestError("tool_choice needs `tools`.", param="tool_choice"),
            "tool_choice",
            "tool_choice needs `tools`.",
        ),
        (
            errors.UpstreamError("The provider failed.", param="stop"),
            "stop",
            "The provider failed.",
        ),
    ],
)
def test_refusals_are_worded_in_messages_terms(
    error: errors.GatewayError, param: str, message: str
) -> None:
    renamed = in_messages_terms(error)
    assert (renamed.param, renamed.message) == (param, message)
