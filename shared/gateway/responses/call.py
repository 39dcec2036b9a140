"""How one deployment is called for a Responses API request (the router's `Attempt`).

OpenAI deployments get the client's body natively (gateway/responses/native.py), with
the stored conversation replayed in `input`. Every other deployment gets the request
translated to chat (gateway/responses/to_chat.py, already the pipeline's view of it)
and its answer translated back (gateway/responses/surfaces.py); what chat cannot
carry (hosted tools, files) is a 400 naming it rather than a silent loss.

With `store` (the default) the response is kept before its body or its terminal event
leaves (gateway/responses/turn.py). A store that fails then is logged and flagged in
`x-gateway-response-stored: false`: the answer was paid for, and a follow-up naming
it gets a clear 404 rather than the whole answer being lost now.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.completions import attempt
from gateway.errors import GatewayError
from gateway.providers.dialects import dialect
from gateway.providers.spec import ResponseMeta
from gateway.responses.native import NativeSpeaker, is_native
from gateway.responses.store import StoredResponse, response_store
from gateway.responses.support import untranslatable
from gateway.responses.surfaces import ID_PREFIX, NativeSurface, TranslatedSurface
from gateway.responses.turn import Turn

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.completions import Outcome
    from gateway.config import Deployment
    from gateway.providers.spec import Speaker
    from gateway.schemas.openai import ChatCompletionRequest
    from gateway.schemas.responses import ResponsesRequest

logger = logging.getLogger(__name__)

STORED_HEADER = "x-gateway-response-stored"


@dataclass(frozen=True, slots=True)
class ResponsesCall:
    request: ResponsesRequest
    body: Mapping[str, Any]  # the client's body
    history: Sequence[dict[str, Any]]  # the stored conversation before this turn
    items: Sequence[dict[str, Any]]  # this turn's input items, as input_items lists them
    scope: str  # whose responses these are (gateway/responses/store.py)

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
        turn = Turn(store=self.request.store)
        speaker: Speaker | None = None
        surface: NativeSurface | TranslatedSurface
        if is_native(deployment.target):
            speaker = NativeSpeaker(self.body, self.history, turn)
            surface = NativeSurface(turn)
        else:
            problem = untranslatable(
                self.request,
                list(self.history) + list(self.items),
                needs_a_turn=dialect(deployment.target.dialect).NEEDS_A_TURN,
            )
            if problem is not None:
                raise problem
            surface = TranslatedSurface(turn, self.body)
        outcome = await attempt(
            request,
            deployment,
            request_id,
            timeout_s=timeout_s,
            first_byte_s=first_byte_s,
            record=record,
            speaker=speaker,
            surface=surface,
        )
        if outcome.stream is None:
            await self._keep(turn, outcome)
            return outcome
        meta = ResponseMeta(f"{ID_PREFIX}{request_id}", int(time.time()), request.model)

        async def completed(done: Outcome) -> None:
            if isinstance(surface, TranslatedSurface):
                surface.close(meta, done.usage)
            await self._keep(turn, done)

        outcome.on_complete.append(completed)
        return outcome

    async def _keep(self, turn: Turn, outcome: Outcome) -> None:
        final = turn.final
        if (
            turn.store
            and final is not None
            and not await keep(self.scope, final, self.items, self.history)
        ):
            outcome.headers[STORED_HEADER] = "false"


async def keep(
    scope: str,
    response: dict[str, Any],
    items: Sequence[dict[str, Any]],
    history: Sequence[dict[str, Any]],
) -> bool:
    """Store a response for later turns; False (logged) if the store failed."""
    try:
        await response_store().put(scope, StoredResponse(response, list(items), list(history)))
    except GatewayError as exc:
        logger.error("response %s not stored: %s", response.get("id"), exc.code)
        return False
    return True
