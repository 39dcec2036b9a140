"""The Messages API served natively: a client's Messages body to POST {api_base}/v1/messages.

The body goes through as the client wrote it (validated and stripped of gateway
fields by the HTTP layer); only `model` becomes the deployment's model id and
`stream` follows the request. Betas travel in the `anthropic-beta` header.
Stream events come back as Anthropic sends them; an `error` event raises the
mapped gateway error, as in the chat path.
Reference: https://docs.anthropic.com/en/api/messages,
https://docs.anthropic.com/en/api/messages-count-tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures
from gateway.providers.anthropic.errors import error_from
from gateway.providers.anthropic.request import API_VERSION, endpoint
from gateway.providers.spec import UpstreamRequest

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.providers.spec import Target, UpstreamEvent


def _headers(target: Target, betas: Sequence[str]) -> dict[str, str]:
    headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
    if betas:
        headers["anthropic-beta"] = ",".join(betas)
    if target.api_key:
        headers["x-api-key"] = target.api_key
    return headers


def build_messages_request(
    body: Mapping[str, Any], target: Target, *, stream: bool, betas: Sequence[str]
) -> UpstreamRequest:
    out = {key: value for key, value in body.items() if key != "stream"}
    out["model"] = target.model
    if stream:
        out["stream"] = True
    return UpstreamRequest(
        url=endpoint(target.api_base), body=out, headers=_headers(target, betas), stream=stream
    )


# What only shapes a generation: count_tokens refuses these fields of a Messages body.
GENERATION_ONLY = frozenset(
    {
        "max_tokens",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "metadata",
        "service_tier",
    }
)


def build_count_request(
    body: Mapping[str, Any], target: Target, *, betas: Sequence[str]
) -> UpstreamRequest:
    """POST /v1/messages/count_tokens takes the Messages body less GENERATION_ONLY."""
    out = {key: value for key, value in body.items() if key not in GENERATION_ONLY}
    out["model"] = target.model
    url = endpoint(target.api_base) + "/count_tokens"
    return UpstreamRequest(url=url, body=out, headers=_headers(target, betas))


def count_from(body: bytes) -> int:
    tokens = failures.json_object(body).get("input_tokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        raise errors.UpstreamError("The provider sent a malformed token count.")
    return tokens


def messages_event(event: UpstreamEvent) -> dict[str, Any] | None:
    """One SSE event as the Anthropic event it is."""
    data = failures.json_object(event.data)
    if data.get("type") == "error":
        raise error_from(data, 200, {})  # after a 200: the documented type decides
    return data
