"""Records as LiteLLM's admin API shows them.

Shapes follow LiteLLM's management endpoints (litellm/proxy/management_endpoints/
key_management_endpoints.py, team_endpoints.py, internal_user_endpoints.py): a key
as a LiteLLM_VerificationToken row (`token` is the SHA-256 of the key, `key_name` its
display form), a team as LiteLLM_TeamTable, a user as LiteLLM_UserTable. Money is
USD, times ISO 8601 in UTC. Only the routes that create a key add the key itself.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

if TYPE_CHECKING:
    from gateway.schemas.records import KeyRecord, TeamRecord, UserRecord
    from gateway.store.entities import Record


def iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def usd(micros: int | None) -> float | None:
    return None if micros is None else micros / 1_000_000


def _limits(record: Record) -> dict[str, Any]:
    return {
        "models": list(record.models),
        "max_budget": usd(record.max_budget_micros),
        "soft_budget": usd(record.soft_budget_micros),
        "budget_duration": record.budget_duration,
        "rpm_limit": record.rpm_limit,
        "tpm_limit": record.tpm_limit,
        "max_parallel_requests": record.max_parallel_requests,
        "metadata": record.metadata,
        "blocked": record.blocked,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "created_by": record.created_by,
    }


def key(record: KeyRecord) -> dict[str, Any]:
    return {
        "token": record.token,
        "key_name": record.key_name,
        "key_alias": record.key_alias,
        "team_id": record.team_id,
        "user_id": record.user_id,
        "aliases": record.aliases,
        "allowed_cache_controls": (
            None if record.allowed_cache_controls is None else list(record.allowed_cache_controls)
        ),
        "expires": iso(record.expires),
        **_limits(record),
        "rotated_to": record.rotated_to,
    }


def new_key(record: KeyRecord, key_text: str) -> dict[str, Any]:
    """A created key: the only answer that holds the key itself (LiteLLM's GenerateKeyResponse)."""
    return {**key(record), "key": key_text, "token_id": record.token}


def team(record: TeamRecord) -> dict[str, Any]:
    return {
        "team_id": record.team_id,
        "team_alias": record.team_alias,
        "members_with_roles": list(record.members_with_roles),
        **_limits(record),
    }


def user(record: UserRecord) -> dict[str, Any]:
    return {
        "user_id": record.user_id,
        "user_email": record.user_email,
        "user_alias": record.user_alias,
        "user_role": record.user_role,
        "teams": list(record.teams),
        **_limits(record),
    }


def pages(total: int, size: int) -> int:
    return -(-total // size)


def respond(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")
