"""What admin writes check: the objects they name exist, and a key stays within its team.

A key in a team may not set a limit above the team's: each of rpm_limit, tpm_limit,
max_parallel_requests and max_budget must be at most the team's when the team sets
one (a key that sets none has only the team's), and each of the key's models must be
one the team allows, wildcards included (`models_allow`; a key listing no models, or
LiteLLM's "all-team-models", has the team's). A model group's provider comes from the
model config when it knows the group (as on the request path), else from a
`provider/` prefix; a name with neither falls under a team's `anthropic/*` only if
the team lists it by name. The team is read, checked, and required unchanged (same
revision) when the key's write commits, so a team update that lands in between makes
the key write fail (409) instead of leaving a key above its team.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.errors import GatewayError, InvalidRequestError, NotFoundError
from gateway.http.admin import views
from gateway.http.dependencies import gateway_config
from gateway.schemas.records import models_allow
from gateway.store import entities
from gateway.store.keys import token_of

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.http.admin.endpoint import Admin
    from gateway.schemas.records import KeyRecord, TeamRecord, UserRecord
    from gateway.store.entities import Stored, Transaction

# (record field, API name, shown as USD)
LIMITS = (
    ("rpm_limit", "rpm_limit", False),
    ("tpm_limit", "tpm_limit", False),
    ("max_parallel_requests", "max_parallel_requests", False),
    ("max_budget_micros", "max_budget", True),
)
ALL_TEAM_MODELS = "all-team-models"


@dataclass(frozen=True, slots=True)
class Excess:
    """How a key goes beyond its team: the API field and what is wrong with it."""

    param: str
    detail: str


def provider_of(model: str, config: GatewayConfig | None) -> str | None:
    """The provider of a model group all of whose deployments share one, else the prefix."""
    group = config.groups.get(model, []) if config is not None else []
    providers = {deployment.target.provider for deployment in group}
    if len(providers) == 1:
        return providers.pop()
    prefix, sep, _ = model.partition("/")
    return prefix if sep else None


async def model_config() -> GatewayConfig | None:
    """The model config, or None if it cannot be loaded (then only prefixes name providers)."""
    try:
        return await gateway_config()
    except GatewayError:
        return None


def excess(key: KeyRecord, team: TeamRecord, config: GatewayConfig | None) -> Excess | None:
    for field, param, money in LIMITS:
        own, cap = getattr(key, field), getattr(team, field)
        if cap is not None and own is not None and own > cap:
            shown = (views.usd(own), views.usd(cap)) if money else (own, cap)
            return Excess(param, f"{param} {shown[0]} is above the team's {shown[1]}")
    for model in key.models:
        if model != ALL_TEAM_MODELS and not models_allow(
            team.models, model, provider_of(model, config)
        ):
            return Excess("models", f"model '{model}' is not among the team's models")
    return None


async def load_key(admin: Admin, ref: str, *, param: str = "key") -> Stored[KeyRecord]:
    """A key named by the key itself or by its hash (LiteLLM's `token`)."""
    found = await entities.get_key(admin.db, token_of(ref))
    if found is None:
        raise NotFoundError("Key not found.", param=param)
    return found


async def load_team(admin: Admin, team_id: str, *, param: str = "team_id") -> Stored[TeamRecord]:
    found = await entities.get_team(admin.db, team_id)
    if found is None:
        raise NotFoundError(f"Team '{team_id}' not found.", param=param)
    return found


async def load_user(admin: Admin, user_id: str, *, param: str = "user_id") -> Stored[UserRecord]:
    found = await entities.get_user(admin.db, user_id)
    if found is None:
        raise NotFoundError(f"User '{user_id}' not found.", param=param)
    return found


async def bind_team(admin: Admin, txn: Transaction, key: KeyRecord) -> None:
    """Check a key against its team (which must exist) and pin the team for the commit."""
    if key.team_id is None:
        return
    team = await load_team(admin, key.team_id)
    problem = excess(key, team.record, await model_config())
    if problem is not None:
        raise InvalidRequestError(
            f"The key must stay within team '{key.team_id}': {problem.detail}.",
            param=problem.param,
        )
    txn.require(team, param="team_id")
