"""The Responses API relayed natively to OpenAI: the client's body to POST {api_base}/responses.

The gateway keeps the conversation state itself (gateway/responses/store.py), so the
upstream call is stateless: `previous_response_id` is resolved here into the earlier
items, which go first in `input`, and `store` is always false upstream (OpenAI keeps
nothing the gateway would have to find again on another instance or provider).
Replayed items lose their ids (OpenAI would look stored items up by id and find
none); reasoning items go back only with their `encrypted_content`, the only form
OpenAI accepts without its own store. Everything else goes through as written: tools,
include, reasoning, text, metadata.

The Response and its events come back as OpenAI sends them; the gateway changes the
response's `id` (its own, `resp_<request id>`), `model` (the name asked for), `store`
and `previous_response_id` (the client's), reads the usage for the spend ledger, and
holds the terminal event (response.completed or .incomplete) until the response is
stored, so a follow-up that names it finds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures, sse
from gateway.providers.dialects import dialect
from gateway.providers.spec import Completion, StreamState, TokenUsage, UpstreamRequest
from gateway.responses.turn import TERMINAL, Turn

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.providers.spec import ResponseMeta, Target, UpstreamEvent
    from gateway.schemas.openai import ChatCompletionRequest

# The gateway's own fields, or state it keeps itself: never sent upstream.
_NOT_SENT = frozenset({"previous_response_id", "store", "stream"})


def endpoint(api_base: str) -> str:
    base = api_base.rstrip("/").removesuffix("/chat/completions").removesuffix("/responses")
    return base + "/responses"


def is_native(target: Target) -> bool:
    """OpenAI itself serves the Responses API; OpenAI-compatible vendors get chat."""
    return target.provider == "openai"


def replayed(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Earlier items as a stateless upstream takes them back."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") == "reasoning":
            if item.get("encrypted_content"):
                out.append(dict(item))
            continue
        out.append({key: value for key, value in item.items() if key != "id"})
    return out


def token_usage(raw: object) -> TokenUsage:
    if not isinstance(raw, dict):
        return TokenUsage()
    details = raw.get("input_tokens_details") or {}
    out_details = raw.get("output_tokens_details") or {}
    return TokenUsage(
        input_tokens=_int(raw.get("input_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
        cache_read_tokens=_int(details.get("cached_tokens") if isinstance(details, dict) else 0),
        reasoning_tokens=_int(
            out_details.get("reasoning_tokens") if isinstance(out_details, dict) else 0
        ),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


# What OpenAI's input-token count takes of a create body (TokenCountsBody).
COUNTED = frozenset(
    {
        "model",
        "input",
        "tools",
        "text",
        "reasoning",
        "truncation",
        "instructions",
        "tool_choice",
        "parallel_tool_calls",
    }
)


def upstream_input(body: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> Any:
    """The client's input, after the replayed conversation when there is one."""
    given = body.get("input")
    if not history:
        return given
    if given is None:
        given = []
    current = [{"role": "user", "content": given}] if isinstance(given, str) else given
    return [*replayed(history), *current]


def _auth_headers(target: Target) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    return headers


def build_count_request(
    body: Mapping[str, Any], history: Sequence[Mapping[str, Any]], target: Target
) -> UpstreamRequest:
    """POST /responses/input_tokens: the counted fields, state resolved as for a create."""
    out = {key: value for key, value in body.items() if key in COUNTED}
    given = upstream_input(body, history)
    if given is not None:
        out["input"] = given
    out["model"] = target.model
    url = endpoint(target.api_base) + "/input_tokens"
    return UpstreamRequest(url=url, body=out, headers=_auth_headers(target))


def count_from(body: bytes) -> int:
    tokens = failures.json_object(body).get("input_tokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        raise errors.UpstreamError("The provider sent a malformed token count.")
    return tokens


class NativeSpeaker:
    """One attempt on OpenAI's Responses API (the body and turn are bound to it)."""

    def __init__(
        self, body: Mapping[str, Any], history: Sequence[Mapping[str, Any]], turn: Turn
    ) -> None:
        self.body = body
        self.history = history
        self.turn = turn
        self.errors = dialect("openai")

    def build_request(self, request: ChatCompletionRequest, target: Target) -> UpstreamRequest:
        out = {key: value for key, value in self.body.items() if key not in _NOT_SENT}
        given = upstream_input(self.body, self.history)
        if given is not None:  # OpenAI says what it makes of a request without input
            out["input"] = given
        out["model"] = target.model
        out["store"] = False
        stream = bool(request.stream)
        if stream:
            out["stream"] = True
        return UpstreamRequest(
            url=endpoint(target.api_base), body=out, headers=_auth_headers(target), stream=stream
        )

    def parse_response(self, body: bytes, meta: ResponseMeta) -> Completion:
        response = failures.json_object(body)
        if response.get("object") != "response" or not isinstance(response.get("output"), list):
            raise errors.UpstreamError("The provider sent a malformed response.")
        self._brand(response, meta)
        self.turn.final = response
        return Completion(response, token_usage(response.get("usage")))

    def new_stream_state(self, meta: ResponseMeta) -> StreamState:
        return StreamState(meta=meta)

    def parse_stream_event(self, state: StreamState, event: UpstreamEvent) -> list[Any]:
        if event.data == "[DONE]":
            return []
        data = failures.json_object(event.data)
        kind = data.get("type")
        if kind == "error":  # {"type": "error", "code", "message", "param"}
            raise self.errors.map_error(200, sse.dumps({"error": data}), {})
        response = data.get("response")
        if isinstance(response, dict):
            self._brand(response, state.meta)
            state.usage = token_usage(response.get("usage")) if response.get("usage") else None
        if kind == "response.failed":
            raise errors.UpstreamError(f"The provider failed the response: {_reason(response)}")
        if not isinstance(kind, str) or not kind.endswith(".delta"):
            # The relay counts every item as a token of a cut stream's estimate; framing
            # events (items opened and closed, snapshots) carry none.
            state.chunks -= 1
        if kind in TERMINAL:
            if not isinstance(response, dict):
                raise errors.UpstreamError("The provider sent a malformed stream event.")
            state.done = True
            self.turn.final = response
        self.turn.seen(data)
        return [data]

    def finish_stream(self, state: StreamState) -> list[Any]:
        if not state.done:
            raise errors.UpstreamError("The provider's stream ended before it finished.")
        return []

    def map_error(
        self, status: int, body: bytes, headers: Mapping[str, str]
    ) -> errors.GatewayError:
        return self.errors.map_error(status, body, headers)

    def _brand(self, response: dict[str, Any], meta: ResponseMeta) -> None:
        response["id"], response["model"] = meta.id, meta.model
        response["store"] = self.turn.store
        response["previous_response_id"] = self.body.get("previous_response_id")


def _reason(response: object) -> str:
    error = response.get("error") if isinstance(response, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return failures.vendor_message(message) or "no reason given"
