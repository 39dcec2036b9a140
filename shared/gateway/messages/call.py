"""How one deployment is called for a Messages API request (the router's `Attempt`).

Claude deployments (Anthropic, Bedrock Claude) get the client's body natively
(gateway/messages/native.py). Every other deployment gets the request translated
to chat (gateway/messages/to_chat.py, already the pipeline's view of it) and its
answer translated back (gateway/messages/translated.py); a feature chat cannot
carry, or a beta it cannot honour, is a 400 naming it rather than a silent loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gateway.completions import attempt
from gateway.errors import GatewayError
from gateway.messages.native import NATIVE, NativeSpeaker, native_api
from gateway.messages.support import refuse_betas, untranslatable
from gateway.messages.translated import TranslatedSurface

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.completions import Outcome
    from gateway.config import Deployment
    from gateway.providers.spec import Speaker, Surface
    from gateway.schemas.anthropic import MessagesRequest
    from gateway.schemas.openai import ChatCompletionRequest


# A translated request is refused by the chat dialect in chat's words; the client wrote
# Anthropic's, so the param names the field it sent. Where chat's own field name is the
# message's subject, the message is reworded too.
MESSAGES_PARAMS: Mapping[str, str] = MappingProxyType(
    {
        "reasoning_effort": "thinking",
        "parallel_tool_calls": "tool_choice.disable_parallel_tool_use",
        "response_format": "output_config.format",
        "response_format.json_schema": "output_config.format",
        "stop": "stop_sequences",
    }
)
CHAT_WORDED = frozenset({"reasoning_effort", "parallel_tool_calls", "response_format"})


def in_messages_terms(error: GatewayError) -> GatewayError:
    chat_param = error.param or ""
    named = MESSAGES_PARAMS.get(chat_param)
    if named is not None and error.status == 400:
        if chat_param.split(".")[0] in CHAT_WORDED:
            error.message = f"'{named}' cannot be honoured by this model's provider."
        error.param = named
    return error


@dataclass(frozen=True, slots=True)
class MessagesCall:
    request: MessagesRequest
    body: Mapping[str, Any]  # the client's body, gateway fields removed
    betas: tuple[str, ...]

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
        target = deployment.target
        api = native_api(target)
        speaker: Speaker | None = None
        surface: Surface
        if api is not None:
            speaker = NativeSpeaker(api, target, self.body, self.betas)
            surface = NATIVE
        else:
            refuse_betas(self.betas)
            problem = untranslatable(self.request)
            if problem is not None:
                raise problem
            surface = TranslatedSurface()  # per attempt: it keeps the stream's state
        try:
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
        except GatewayError as error:
            raise (error if api is not None else in_messages_terms(error)) from None
