"""The router as the HTTP layer uses it: settings from the config, one router per app
instance, and the routing fields a request body may carry (LiteLLM's `fallbacks`,
`num_retries`), which are taken out before the body is validated and never sent on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.errors import InvalidRequestError
from gateway.http.dependencies import derived, table
from gateway.router.engine import Router, RouteRequest
from gateway.router.settings import MAX_RETRIES, parse_router_settings

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.config import GatewayConfig
    from gateway.router.settings import RouterSettings


def options(data: dict[str, Any]) -> RouteRequest:
    """Pop and check the body's routing fields."""
    raw_fallbacks = data.pop("fallbacks", None)
    raw_retries = data.pop("num_retries", None)
    fallbacks: list[str] = []
    if raw_fallbacks is not None:
        if not isinstance(raw_fallbacks, list):
            raise InvalidRequestError(
                "'fallbacks' must be a list of model names.", param="fallbacks"
            )
        for entry in raw_fallbacks:
            if isinstance(entry, str):
                fallbacks.append(entry)
            elif isinstance(entry, dict) and all(
                isinstance(v, list) and all(isinstance(n, str) for n in v) for v in entry.values()
            ):
                fallbacks.extend(n for names in entry.values() for n in names)
            else:
                raise InvalidRequestError(
                    "'fallbacks' must be a list of model names.", param="fallbacks"
                )
    retries = None
    if raw_retries is not None:
        if isinstance(raw_retries, bool) or not isinstance(raw_retries, int):
            raise InvalidRequestError("'num_retries' must be an integer.", param="num_retries")
        if not 0 <= raw_retries <= MAX_RETRIES:
            raise InvalidRequestError(
                f"'num_retries' must be from 0 to {MAX_RETRIES}.", param="num_retries"
            )
        retries = raw_retries
    return RouteRequest(fallbacks=tuple(fallbacks), num_retries=retries)


def settings(config: GatewayConfig) -> RouterSettings:
    """The router settings of `config`, parsed once per loaded config."""
    return derived(config, parse_router_settings, "router settings")


def router(request: Request) -> Router:
    """This app instance's router (its cooldown cache and latency memory are its own)."""
    from gateway.router.cooldowns import Cooldowns
    from gateway.router.usage import DeploymentUsage

    db = table()
    current: tuple[Any, Router] | None = getattr(request.app.state, "router", None)
    if current is None or current[0] is not db:
        current = (db, Router(Cooldowns(db), DeploymentUsage(db)))
        request.app.state.router = current
    return current[1]
