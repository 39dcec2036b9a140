"""Admin requests: LiteLLM's field names, validated strictly.

Field names follow LiteLLM's proxy types (litellm/proxy/_types.py: GenerateKeyRequest,
UpdateKeyRequest, RegenerateKeyRequest, KeyRequest, BlockKeyRequest, NewTeamRequest,
UpdateTeamRequest, DeleteTeamRequest, NewUserRequest, UpdateUserRequest,
DeleteUserRequest). Only fields the gateway implements are accepted: any other body
field or query parameter, LiteLLM's or not, is a 400 `unsupported_parameter` naming
it. Values are strict (`"rpm_limit": "5"` is a 400). In an update, a field given as
null is cleared and a field left out is kept. Money is USD in the API and integer
micro-dollars in records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway import numerals
from gateway.errors import InvalidRequestError, UnsupportedParameterError
from gateway.http.admin.durations import is_duration
from gateway.http.body import parse_json, read_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

MAX_ITEMS = 100
MAX_JSON_BYTES = 16_384


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be printable text")
    return value


def _duration(value: str) -> str:
    if not is_duration(value):
        raise ValueError(
            'must be a duration such as "30s", "30m", "30h", "30d", "2w" or "1mo", '
            "of at most 100 years"
        )
    return value


def _small(value: dict[str, Any]) -> dict[str, Any]:
    if len(orjson.dumps(value)) > MAX_JSON_BYTES:
        raise ValueError(f"must be at most {MAX_JSON_BYTES} bytes as JSON")
    return value


Text = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_printable)]
Limit = Annotated[int, Field(ge=0, le=10**12)]
Usd = Annotated[float, Field(ge=0, le=10**9)]
Duration = Annotated[str, AfterValidator(_duration)]
Names = Annotated[list[Text], Field(max_length=MAX_ITEMS)]
Metadata = Annotated[dict[str, Any], AfterValidator(_small)]
Aliases = Annotated[dict[str, Text], AfterValidator(_small)]
Role = Literal["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer"]


def _micros(usd: float | None) -> int | None:
    return None if usd is None else round(usd * 1_000_000)


def _members(members: list[Member] | None) -> tuple[dict[str, Any], ...]:
    return tuple(m.model_dump(exclude_none=True) for m in members or ())


def _same(value: Any) -> Any:
    return value


# API field -> (record field, conversion); every other field keeps its name and value.
_RECORD_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "max_budget": ("max_budget_micros", _micros),
    "soft_budget": ("soft_budget_micros", _micros),
    "models": ("models", lambda v: tuple(v or ())),
    "teams": ("teams", lambda v: tuple(v or ())),
    "metadata": ("metadata", lambda v: dict(v or {})),
    "aliases": ("aliases", lambda v: dict(v or {})),
    "allowed_cache_controls": ("allowed_cache_controls", lambda v: None if v is None else tuple(v)),
    "blocked": ("blocked", bool),
    "members_with_roles": ("members_with_roles", _members),
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    NOT_STORED: ClassVar[frozenset[str]] = frozenset()

    def given(self, name: str) -> bool:
        return name in self.model_fields_set

    def changes(self) -> dict[str, Any]:
        """The record fields this request sets, converted (None clears a field)."""
        out: dict[str, Any] = {}
        for name in sorted(self.model_fields_set - self.NOT_STORED):
            target, convert = _RECORD_FIELDS.get(name, (name, _same))
            out[target] = convert(getattr(self, name))
        return out


class _Limits(_Body):
    """What keys, teams and users may all carry."""

    models: Names | None = None
    max_budget: Usd | None = None
    soft_budget: Usd | None = None  # stored; enforcement is a later layer's
    budget_duration: Duration | None = None
    rpm_limit: Limit | None = None
    tpm_limit: Limit | None = None
    max_parallel_requests: Limit | None = None
    metadata: Metadata | None = None
    blocked: bool | None = None


class KeyFields(_Limits):
    NOT_STORED = frozenset({"key", "duration", "grace_period"})

    key_alias: Text | None = None
    duration: Duration | None = None
    team_id: Text | None = None
    user_id: Text | None = None
    aliases: Aliases | None = None
    # LiteLLM's field; not given = every control, [] = none.
    allowed_cache_controls: (
        list[Literal["no-cache", "no-store", "ttl", "s-maxage", "namespace"]] | None
    ) = None


class GenerateKeyRequest(KeyFields):
    pass


class UpdateKeyRequest(KeyFields):
    key: Text


class RegenerateKeyRequest(KeyFields):
    key: Text | None = None
    grace_period: Duration | None = None


class KeyRequest(_Body):
    keys: Annotated[list[Text], Field(max_length=MAX_ITEMS)] | None = None
    key_aliases: Annotated[list[Text], Field(max_length=MAX_ITEMS)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> KeyRequest:
        if not self.keys and not self.key_aliases:
            raise ValueError("give at least one of 'keys' or 'key_aliases'")
        return self


class BlockKeyRequest(_Body):
    key: Text


class Member(_Body):
    user_id: Text | None = None
    user_email: Text | None = None
    role: Literal["admin", "user"]

    @model_validator(mode="after")
    def _someone(self) -> Member:
        if self.user_id is None and self.user_email is None:
            raise ValueError("give 'user_id' or 'user_email'")
        return self


class _TeamFields(_Limits):
    team_alias: Text | None = None
    members_with_roles: Annotated[list[Member], Field(max_length=MAX_ITEMS)] | None = None


class NewTeamRequest(_TeamFields):
    team_id: Text | None = None


class UpdateTeamRequest(_TeamFields):
    team_id: Text


class DeleteTeamRequest(_Body):
    team_ids: Annotated[list[Text], Field(min_length=1, max_length=MAX_ITEMS)]


class _UserFields(_Limits):
    user_email: Text | None = None
    user_alias: Text | None = None
    user_role: Role | None = None
    teams: Names | None = None


class NewUserRequest(_UserFields):
    NOT_STORED = frozenset({"team_id", "auto_create_key", "key_alias", "duration"})

    user_id: Text | None = None
    team_id: Text | None = None  # LiteLLM: join this team; the auto-created key is its key
    auto_create_key: bool = True
    key_alias: Text | None = None  # of the auto-created key
    duration: Duration | None = None  # of the auto-created key


class UpdateUserRequest(_UserFields):
    user_id: Text


class DeleteUserRequest(_Body):
    user_ids: Annotated[list[Text], Field(min_length=1, max_length=MAX_ITEMS)]


# ---- reading requests -------------------------------------------------------------------

B = TypeVar("B", bound=_Body)


def _param(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def validate(model: type[B], data: dict[str, Any]) -> B:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        extra = [e for e in errors if e["type"] == "extra_forbidden"]
        error = (extra or errors)[0]
        param = _param(tuple(error["loc"]))
        if extra:
            raise UnsupportedParameterError(
                f"Unsupported parameter: '{param}'.", param=param
            ) from None
        message = f"Invalid value for '{param}': {error['msg']}." if param else error["msg"]
        raise InvalidRequestError(message, param=param or None) from None


async def read(request: Request, model: type[B], *, may_be_empty: bool = False) -> B:
    """The JSON body as `model`; a POST route takes no query parameters."""
    query(request, frozenset())
    raw = await read_body(request)
    if may_be_empty and not raw.strip():
        return validate(model, {})
    return validate(model, parse_json(raw))


def query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise UnsupportedParameterError(f"Unsupported query parameter: '{name}'.", param=name)
        if name in out:
            raise InvalidRequestError(f"'{name}' is given more than once.", param=name)
        out[name] = value
    return out


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise InvalidRequestError(f"'{name}' is required.", param=name)
    return value


def integer(params: dict[str, str], name: str, *, default: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    value = numerals.whole(text)
    if value is None or not 1 <= value <= high:
        raise InvalidRequestError(f"'{name}' must be an integer from 1 to {high}.", param=name)
    return value


def flag(params: dict[str, str], name: str) -> bool:
    text = params.get(name, "false").lower()
    if text not in ("true", "false"):
        raise InvalidRequestError(f"'{name}' must be true or false.", param=name)
    return text == "true"
