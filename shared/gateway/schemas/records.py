"""What the gateway stores about keys, teams and users: one record per DynamoDB item.

Field names are LiteLLM's where it has one (`key_alias`, `models`, `rpm_limit`, ...).
Money is integer micro-dollars (`*_micros`); times are epoch seconds. A key record
holds the SHA-256 of the key (`token`) and a short display form (`key_name`), never
the key itself.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

ALL_MODELS = frozenset({"*", "all-proxy-models"})


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits every level (key, team, user) may carry; None means unlimited."""

    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None

    def any(self) -> bool:
        return any(
            v is not None for v in (self.rpm_limit, self.tpm_limit, self.max_parallel_requests)
        )


def models_allow(allowed: tuple[str, ...], model: str, provider: str | None) -> bool:
    """LiteLLM's model lists: empty or "*" is every model; `anthropic/*` is a provider's."""
    if not allowed or ALL_MODELS.intersection(allowed):
        return True
    for pattern in allowed:
        if pattern == model or ("*" in pattern and fnmatch.fnmatchcase(model, pattern)):
            return True
        prefix, sep, rest = pattern.partition("/")
        if sep and rest == "*" and provider is not None and prefix == provider:
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Record:
    """Fields shared by keys, teams and users."""

    models: tuple[str, ...] = ()
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    max_budget_micros: int | None = None
    soft_budget_micros: int | None = None
    budget_duration: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    blocked: bool = False
    created_at: int = 0
    updated_at: int = 0
    created_by: str | None = None

    KIND: ClassVar[str] = ""
    TUPLES: ClassVar[frozenset[str]] = frozenset({"models"})

    @property
    def limits(self) -> Limits:
        return Limits(self.rpm_limit, self.tpm_limit, self.max_parallel_requests)

    def fields(self) -> dict[str, Any]:
        """Every field as plain data (tuples as lists), for storage and audit."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> Self:
        """A record from stored data; unknown attributes (keys, indexes) are ignored."""
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in data and data[f.name] is not None:
                value = data[f.name]
                kwargs[f.name] = tuple(value) if f.name in cls.TUPLES else value
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class KeyRecord(_Record):
    token: str = ""  # SHA-256 hex of the key: the item's identity
    key_id: str = ""  # stable across rotation: rate-limit state hangs off it
    key_name: str = ""  # display form, e.g. "sk-gw-...3f9a"
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    expires: int | None = None  # epoch seconds; None never expires
    rotated_to: str | None = None  # token of the key that replaced this one
    allowed_cache_controls: tuple[str, ...] | None = None  # None: every cache control

    KIND: ClassVar[str] = "key"
    TUPLES: ClassVar[frozenset[str]] = frozenset({"models", "allowed_cache_controls"})

    def is_expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires


@dataclass(frozen=True, slots=True)
class TeamRecord(_Record):
    team_id: str = ""
    team_alias: str | None = None
    members_with_roles: tuple[dict[str, Any], ...] = ()

    KIND: ClassVar[str] = "team"
    TUPLES: ClassVar[frozenset[str]] = frozenset({"models", "members_with_roles"})


@dataclass(frozen=True, slots=True)
class UserRecord(_Record):
    user_id: str = ""
    user_email: str | None = None
    user_alias: str | None = None
    user_role: str | None = None
    teams: tuple[str, ...] = ()

    KIND: ClassVar[str] = "user"
    TUPLES: ClassVar[frozenset[str]] = frozenset({"models", "teams"})
