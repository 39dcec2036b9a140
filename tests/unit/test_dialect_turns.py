"""Each dialect's NEEDS_A_TURN says what its build_request does with system messages alone.

The Responses layer trusts the flag to refuse instructions-only input by the client's
own field (`input`), so the flag and the dialect's own refusal must agree.
"""

from __future__ import annotations

import pytest

from gateway import errors
from gateway.completions import dialect
from gateway.providers.spec import Target
from gateway.schemas.openai import ChatCompletionRequest

TARGETS = {
    "openai": Target("m", "openai", "openai", "gpt-4o-mini", "https://api.openai.com/v1", "sk"),
    "anthropic": Target("m", "anthropic", "anthropic", "claude-3-5-haiku-latest", "https://x", "k"),
    "bedrock": Target(
        "m",
        "bedrock",
        "bedrock",
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "",
        region="us-east-1",
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_flag_matches_the_dialect(name: str) -> None:
    speaker = dialect(name)
    system_only = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "system", "content": "Be brief."}]}
    )
    if speaker.NEEDS_A_TURN:
        with pytest.raises(errors.InvalidRequestError) as caught:
            speaker.build_request(system_only, TARGETS[name])
        assert caught.value.param == "messages"
    else:
        sent = speaker.build_request(system_only, TARGETS[name])
        assert sent.body["messages"] == [{"role": "system", "content": "Be brief."}]
