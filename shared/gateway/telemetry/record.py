"""What one request was, for its metrics and its access log line: assembled once, after
its last byte, from what the request path left on the request's state.

The pipeline leaves its `Account` (the spend event it sent, the attempts, the fallback);
authentication the `Caller`; the error handler the `GatewayError` answered; the response
cache its lookup's result. A request refused before admission has no account: its record
has the status, the error and, once authenticated, the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

KEY_PREFIX = 12  # hex digits of the key's SHA-256 in the log: enough to find it, not to use it


@dataclass(frozen=True, slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    status: int
    latency_ms: float
    error_type: str | None = None
    error_code: str | None = None
    key_alias: str | None = None
    key_hash: str | None = None  # a prefix of the key's SHA-256; "master" for the master key
    team_id: str | None = None
    user_id: str | None = None
    requested_model: str | None = None
    model_group: str | None = None
    provider: str | None = None
    deployment: str | None = None
    response_model: str | None = None  # the provider's name of the model that served
    stream: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0
    ttft_ms: float | None = None
    cache: str | None = None  # the response cache's lookup: hit, miss, bypass, ...
    attempts: int = 0
    upstream_failures: int = 0
    fallback: str | None = None

    @property
    def failed(self) -> bool:
        return self.status >= 400

    @property
    def rate_limited(self) -> bool:
        """Refused by the gateway's own limits (a provider's 429 comes after an attempt)."""
        return self.error_type == "rate_limit_error" and self.attempts == 0


def from_state(
    state: Mapping[str, Any], method: str, path: str, status: int, latency_ms: float
) -> RequestRecord:
    error = state.get("error")
    fields: dict[str, Any] = {
        "request_id": state.get("request_id") or "",
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": latency_ms,
        "cache": state.get("cache_lookup"),
    }
    if error is not None:
        fields.update(error_type=error.type, error_code=error.code)
    caller = state.get("caller")
    if caller is not None:
        key = caller.identity.key if caller.identity is not None else None
        fields["key_hash"] = key.token[:KEY_PREFIX] if key is not None else "master"
        if key is not None:
            fields.update(key_alias=key.key_alias, team_id=key.team_id, user_id=key.user_id)
    account = state.get("account")
    if account is not None:
        fields.update(_served(account))
    return RequestRecord(**fields)


def _served(account: Any) -> dict[str, Any]:
    """What the pipeline knows once it admitted the request."""
    journey = account.journey
    out: dict[str, Any] = {
        "requested_model": account.requested_model,
        "stream": account.stream,
        "attempts": len(journey.attempts),
        "upstream_failures": sum(1 for a in journey.attempts if a.status >= 400),
        "fallback": journey.fallback,
    }
    event = account.last_event
    if event is not None:
        out.update(
            model_group=event.model_group,
            provider=event.provider,
            deployment=event.model_id,
            response_model=event.model or None,
            input_tokens=event.prompt_tokens,
            output_tokens=event.completion_tokens,
            cost_micros=event.spend_micros,
            ttft_ms=event.ttft_ms,
        )
    return out
