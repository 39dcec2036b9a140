"""What a verified caller may do: which models, how fast (shared rate limits) and how
much (budgets).

The master key may use every model without limits. A virtual key may use the models
its own list and its team's list allow (LiteLLM's lists: empty or "*" is all,
`anthropic/*` a provider's, `gpt-4o*` a pattern) and is admitted against the rate
limits and budgets of its key, team and user together: the tightest binds. (LiteLLM
skips the user's own budget for a team key; here every level set applies.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import ModelNotAllowedError
from gateway.http.dependencies import per_instance
from gateway.schemas.records import models_allow
from gateway.store.budgets import Budget
from gateway.store.limits import Admission, Level, Limiter

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request

    from gateway.config import GatewayConfig
    from gateway.http.auth import Caller
    from gateway.schemas.records import KeyRecord, TeamRecord, UserRecord
    from gateway.spend.events import Hold


def _provider(config: GatewayConfig, model: str) -> str | None:
    """The provider serving a model group when all its deployments share one."""
    group = config.groups.get(model) or []
    providers = {deployment.target.provider for deployment in group}
    return providers.pop() if len(providers) == 1 else None


def allows(caller: Caller, config: GatewayConfig, requested: str, model: str) -> bool:
    """Whether the caller may use `model` (the group `requested` resolves to)."""
    identity = caller.identity
    if identity is None:
        return True
    provider = _provider(config, model)
    key_models = identity.key.models
    if not (
        models_allow(key_models, model, provider) or models_allow(key_models, requested, provider)
    ):
        return False
    return identity.team is None or models_allow(identity.team.models, model, provider)


def model_for(caller: Caller, config: GatewayConfig, requested: str) -> str:
    """The model group to serve: the key's alias for the name, if any; 403 if not allowed."""
    identity = caller.identity
    model = identity.key.aliases.get(requested, requested) if identity else requested
    if not allows(caller, config, requested, model):
        raise ModelNotAllowedError(f"This key may not use the model '{requested}'.", param="model")
    return model


def levels(caller: Caller) -> list[Level]:
    identity = caller.identity
    if identity is None:
        return []
    key = identity.key
    out = [Level("key", key.key_id or key.token, key.limits)]
    if identity.team is not None:
        out.append(Level("team", identity.team.team_id, identity.team.limits))
    if identity.user is not None:
        out.append(Level("user", identity.user.user_id, identity.user.limits))
    return out


def budgets(caller: Caller) -> list[Budget]:
    """The levels whose spend is tracked per budget period (a budget, soft budget or
    budget duration is set); the master key has none."""
    identity = caller.identity
    if identity is None:
        return []
    key = identity.key
    records: list[tuple[str, str, KeyRecord | TeamRecord | UserRecord]] = [
        ("key", key.key_id or key.token, key)
    ]
    if identity.team is not None:
        records.append(("team", identity.team.team_id, identity.team))
    if identity.user is not None:
        records.append(("user", identity.user.user_id, identity.user))
    return [
        Budget(scope, entity, r.max_budget_micros, r.soft_budget_micros, r.budget_duration)
        for scope, entity, r in records
        if r.max_budget_micros is not None or r.soft_budget_micros is not None or r.budget_duration
    ]


def limiter(request: Request) -> Limiter | None:
    """This app instance's limiter (its window memory is the instance's own)."""
    return per_instance(request, "limiter", Limiter)


async def admit(
    request: Request, caller: Caller, request_id: str, holds: Sequence[Hold] = ()
) -> Admission:
    """Admit the request against the caller's limits and reserve its budgets (nothing to
    do for the master key)."""
    limits = limiter(request)
    wanted = levels(caller)
    if limits is None or (not wanted and not holds):
        return Admission(request_id=request_id, levels=(), holds=tuple(holds))
    return await limits.admit(wanted, request_id, holds)
