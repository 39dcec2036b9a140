"""Per-sandbox state the routes share: the model config, the master key and the table.

All are loaded on first use (Secrets Manager reads run in a worker thread)
and cached for the life of the sandbox; `reset()` drops them.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio.to_thread

from gateway import aws
from gateway.config import (
    ConfigError,
    GatewayConfig,
    env_lookup,
    parse_config,
    read_config,
    settings,
)
from gateway.errors import ServiceUnavailableError
from gateway.providers import oauth, transport
from gateway.store import dynamo

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from starlette.requests import Request

logger = logging.getLogger(__name__)
T = TypeVar("T")


@functools.cache
def _load_config() -> GatewayConfig:
    current = settings()
    secrets = aws.secret_json(current.provider_secrets_arn) if current.provider_secrets_arn else {}
    raw = read_config(current.config_path) if current.config_path else {}
    return parse_config(raw, env_lookup(secrets))


async def gateway_config() -> GatewayConfig:
    if _load_config.cache_info().currsize:
        return _load_config()
    try:
        return await anyio.to_thread.run_sync(_load_config)
    except Exception:
        logger.exception("could not load the gateway config")
        raise ServiceUnavailableError(
            "The gateway is not configured correctly.", headers={"retry-after": "5"}
        ) from None


def _secret_master_key(arn: str) -> str:
    return aws.secret_string(arn).strip()


async def master_key() -> str | None:
    current = settings()
    if current.master_key:
        return current.master_key
    if current.master_key_secret_arn:
        try:
            return await anyio.to_thread.run_sync(_secret_master_key, current.master_key_secret_arn)
        except Exception:
            logger.exception("could not read the master key secret")
            raise ServiceUnavailableError(
                "The gateway cannot verify keys right now.", headers={"retry-after": "5"}
            ) from None
    return (await gateway_config()).master_key


@functools.cache
def table() -> dynamo.Dynamo | None:
    """The gateway's DynamoDB table (GATEWAY_TABLE); None when none is configured."""
    name = settings().table_name
    return dynamo.Dynamo(name) if name else None


_derived: dict[Callable[..., Any], tuple[GatewayConfig, Any]] = {}


def derived(config: GatewayConfig, parse: Callable[[Mapping[str, Any]], T], what: str) -> T:
    """`parse(config.raw)`, once per loaded config (the router's or the cache's settings).
    An invalid section is the operator's error: 503, and the reason in the log."""
    cached = _derived.get(parse)
    if cached is not None and cached[0] is config:
        return cast("T", cached[1])
    try:
        value = parse(config.raw)
    except ConfigError as exc:
        logger.error("invalid %s: %s", what, exc)
        raise ServiceUnavailableError(
            f"The gateway's {what} are invalid.", headers={"retry-after": "5"}
        ) from None
    _derived[parse] = (config, value)
    return value


def per_instance(request: Request, name: str, make: Callable[[dynamo.Dynamo], T]) -> T | None:
    """State one app instance keeps over the table (its own caches, as each sandbox has
    its own): made on first use, remade if the table changed; None without a table."""
    db = table()
    if db is None:
        return None
    current: tuple[dynamo.Dynamo, T] | None = getattr(request.app.state, name, None)
    if current is None or current[0] is not db:
        current = (db, make(db))
        setattr(request.app.state, name, current)
    return current[1]


def reset() -> None:
    from gateway.cache import store

    _derived.clear()
    store.reset()
    table.cache_clear()
    dynamo.reset()
    _load_config.cache_clear()
    settings.cache_clear()
    aws.reset()
    transport.client.cache_clear()  # an httpx client belongs to the event loop that made it
    oauth.reset()
