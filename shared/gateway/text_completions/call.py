"""How one deployment is called for a legacy completions request (the router's `Attempt`).

A completion-mode deployment gets the client's body (passthrough.py). A chat-mode one
gets the prompt as one user message through its chat dialect, the answer translated
back (surfaces.py); what a chat model cannot do (several prompts, token prompts,
echo, suffix, logprobs, best_of) is a 400 naming it rather than a silent loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.completions import attempt
from gateway.endpoints import check
from gateway.text_completions.passthrough import TextSpeaker
from gateway.text_completions.surfaces import TEXT, TRANSLATED

if TYPE_CHECKING:
    from gateway.completions import Outcome
    from gateway.config import Deployment
    from gateway.schemas.openai import ChatCompletionRequest
    from gateway.text_completions.request import TextRequest


@dataclass(frozen=True, slots=True)
class TextCall:
    request: TextRequest

    async def __call__(
        self,
        request: ChatCompletionRequest,
        deployment: Deployment,
        request_id: str,
        *,
        timeout_s: float,
        first_byte_s: float,
        record: bool = False,
    ) -> Outcome:
        check(deployment, "completions")
        if deployment.mode == "completion":
            speaker, surface = TextSpeaker(self.request.body), TEXT
        else:
            problem = self.request.untranslatable()
            if problem is not None:
                raise problem
            speaker, surface = None, TRANSLATED
        return await attempt(
            request,
            deployment,
            request_id,
            timeout_s=timeout_s,
            first_byte_s=first_byte_s,
            record=record,
            speaker=speaker,
            surface=surface,
        )
