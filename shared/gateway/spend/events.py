"""The spend event: one per request, sent by the API function, applied by the spend function.

It names the request by the gateway's own id (never the provider's), says who made it
(key hash, alias, team, user), what served it and what it cost in integer
micro-dollars, and carries the budget holds its settlement returns. Every request
that reached admission sends exactly one: success, failure, abandoned stream or
cache hit (cost 0).

The wire form is compact JSON with a version. `parse` is strict: anything that is not
a well-formed event raises `PoisonEventError`, which the spend function reports as
that message's failure (it then reaches the dead-letter queue and blocks nothing).

An event is bounded whatever it is built from: its text fields are clipped to the UTF-8
size of the door's limits (gateway/schemas/bounds.py: 1 KiB each, a tag 512 bytes, at
most 32 tags), so the largest event is ~35 KB: far from SQS's 256 KiB message and
DynamoDB's 400 KB item, and every key it makes fits DynamoDB's key sizes. The door
refuses longer strings; the clip is for a bug that would let one through, so that a
served request is charged all the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

import orjson

from gateway.schemas.bounds import MAX_TAG_BYTES, MAX_TAGS, MAX_TEXT_BYTES, clip

VERSION = 1
SCOPES = ("key", "team", "user")
# Free text: who, what and why, from the key's records, the config or the caller.
TEXT_FIELDS = (
    "error_code",
    "api_key",
    "key_id",
    "key_alias",
    "key_name",
    "team_id",
    "user_id",
    "end_user",
    "model_group",
    "requested_model",
    "model",
    "model_id",
    "provider",
)


class PoisonEventError(ValueError):
    """A message that is not a spend event: retrying it can never succeed."""


@dataclass(frozen=True, slots=True)
class Hold:
    """One budget level the request was admitted against, and what it reserved there.

    `amount_micros` is the worst case reserved on the item `BUDGET#<scope>#<entity_id>`
    / `<period>` at admission (0: nothing reserved, the level only tracks spend, e.g. a
    soft budget alone), in the item's `holds` slot of the reservation's minute (`slot`,
    epoch minutes). Settlement returns `amount - cost` and charges `cost`.
    """

    scope: str  # "key", "team" or "user"
    entity_id: str
    period: str  # gateway.spend.periods.Period.id
    amount_micros: int = 0
    max_budget_micros: int | None = None
    soft_budget_micros: int | None = None
    period_end: int | None = None  # epoch seconds, None for the unbounded period
    slot: str = ""  # epoch minute of the reservation ("" when nothing was reserved)


@dataclass(frozen=True, slots=True)
class SpendEvent:
    request_id: str
    start_ms: int  # epoch milliseconds when the gateway received the request
    end_ms: int  # when the response ended (stream included)
    status: str = "success"  # "success" or "failure"
    status_code: int = 200
    error_code: str | None = None
    api_key: str = ""  # SHA-256 of the virtual key; "" for the master key
    key_id: str = ""  # stable across rotation
    key_alias: str | None = None
    key_name: str | None = None  # display form, "sk-gw-...last4"
    team_id: str | None = None
    user_id: str | None = None
    end_user: str | None = None  # the request's own `user` field
    model_group: str = ""  # the group that served (the fallback's, after a fallback)
    requested_model: str = ""  # what the client asked for
    model: str = ""  # the provider's model name
    model_id: str | None = None  # deployment id
    provider: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # cache reads
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    spend_micros: int = 0
    ttft_ms: int | None = None  # time to first token (streams) or to the answer
    stream: bool = False
    cache_hit: bool = False
    usage_estimated: bool = False  # tokens counted by the gateway (the provider sent none)
    attempts: int = 0
    billed_attempts: int = 0
    tags: tuple[str, ...] = ()
    holds: tuple[Hold, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # Short strings (the rule) cost a length test each; see the module's docstring.
        for name in TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) and len(value) > MAX_TEXT_BYTES // 4:
                object.__setattr__(self, name, clip(value, MAX_TEXT_BYTES))
        tags = self.tags
        if len(tags) > MAX_TAGS or any(
            isinstance(t, str) and len(t) > MAX_TAG_BYTES // 4 for t in tags
        ):
            clipped = (clip(t, MAX_TAG_BYTES) if isinstance(t, str) else t for t in tags)
            object.__setattr__(self, "tags", tuple(dict.fromkeys(clipped))[:MAX_TAGS])

    @property
    def latency_ms(self) -> int:
        return max(0, self.end_ms - self.start_ms)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def dumps(self) -> bytes:
        data = dataclasses.asdict(self)
        data["v"] = VERSION
        return orjson.dumps(data)

    @classmethod
    def parse(cls, body: str | bytes) -> Self:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise PoisonEventError("not JSON") from None
        if not isinstance(data, dict) or data.pop("v", None) != VERSION:
            raise PoisonEventError("not a spend event of this version")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        kwargs = _checked(cls, data)
        kwargs["tags"] = tuple(kwargs.get("tags", ()))
        holds = kwargs.get("holds", ())
        if not isinstance(holds, list | tuple):
            raise PoisonEventError("holds is not a list")
        kwargs["holds"] = tuple(Hold(**_checked(Hold, hold)) for hold in holds)
        event = cls(**kwargs)
        _validate(event)
        return event


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "int": (int,),
    "int | None": (int, type(None)),
    "bool": (bool,),
    "tuple[str, ...]": (list, tuple),
    "tuple[Hold, ...]": (list, tuple),
}


def _checked(cls: type, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise PoisonEventError(f"{cls.__name__} is not an object")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise PoisonEventError(f"unknown fields {sorted(unknown)}")
    required = {
        name
        for name, f in known.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    if required - set(data):
        raise PoisonEventError(f"missing fields {sorted(required - set(data))}")
    for name, value in data.items():
        allowed = _TYPES[str(known[name].type)]
        if not isinstance(value, allowed) or (
            isinstance(value, bool) and bool not in allowed and int in allowed
        ):
            raise PoisonEventError(f"{name} has the wrong type")
    return dict(data)


def _validate(event: SpendEvent) -> None:
    if not event.request_id or len(event.request_id) > 128:
        raise PoisonEventError("bad request_id")
    if event.status not in ("success", "failure"):
        raise PoisonEventError("bad status")
    counts = (
        event.prompt_tokens,
        event.completion_tokens,
        event.cached_tokens,
        event.cache_write_tokens,
        event.reasoning_tokens,
        event.spend_micros,
        event.start_ms,
        event.end_ms,
    )
    if any(value < 0 for value in counts):
        raise PoisonEventError("negative count")
    if len(event.tags) > MAX_TAGS or not all(isinstance(t, str) and t for t in event.tags):
        raise PoisonEventError("bad tags")
    for hold in event.holds:
        if hold.scope not in SCOPES or not hold.entity_id or not hold.period:
            raise PoisonEventError("bad hold")
        if hold.amount_micros < 0:
            raise PoisonEventError("negative hold")
