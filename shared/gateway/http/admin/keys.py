"""POST /key/generate, POST /key/update, GET /key/info, GET /key/list.

Requests and answers are LiteLLM's (key_management_endpoints.py): generate answers
the key row plus `key` (the key itself, shown this once) and `token_id`; update
answers `{"key": <hash>, **row}`; info `{"key": <hash>, "info": row}`; list
`{"keys", "total_count", "current_page", "total_pages"}` with hashes, or rows with
`return_full_object=true`. Where LiteLLM echoes the key a caller sent, the gateway
answers its hash: the key appears only in the answer that created it.

A key's `user_id` need not name a user the API created (LiteLLM's keys carry free-form
user ids); `team_id` must name an existing team, and the key must stay within it
(policy.py).

Listing by team reads the team index (gsi2), by user the user index (gsi3), else
every key (gsi1); the other filters narrow it (entities.Listing).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gateway.http.admin import bodies, spend_views, views
from gateway.http.admin.bodies import GenerateKeyRequest, UpdateKeyRequest
from gateway.http.admin.durations import ends_at
from gateway.http.admin.endpoint import admin_route
from gateway.http.admin.policy import bind_team, load_key
from gateway.schemas.records import KeyRecord
from gateway.store import entities, spend_queries, table
from gateway.store.keys import display_name, generate_key, hash_key, new_id

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.admin.bodies import KeyFields
    from gateway.http.admin.endpoint import Admin

LIST_PARAMS = frozenset(
    {"page", "size", "team_id", "user_id", "key_alias", "key_hash", "return_full_object"}
)
MAX_PAGE_SIZE = 100


def apply(record: KeyRecord, body: KeyFields, now: int) -> KeyRecord:
    """The record with the request's fields set; `duration` sets `expires` from now."""
    changes = body.changes()
    if body.given("duration"):
        changes["expires"] = None if body.duration is None else ends_at(body.duration, now)
    return dataclasses.replace(record, **changes, updated_at=now)


def fresh_key(admin: Admin) -> tuple[str, KeyRecord]:
    """A new key and its record (hash and display form only)."""
    key_text = generate_key()
    record = KeyRecord(
        token=hash_key(key_text),
        key_id=new_id(),
        key_name=display_name(key_text),
        created_at=admin.now,
        updated_at=admin.now,
        created_by=admin.audit.actor,
    )
    return key_text, record


async def generate(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, GenerateKeyRequest)
    key_text, blank = fresh_key(admin)
    record = apply(blank, body, admin.now)
    txn = admin.transaction()
    await bind_team(admin, txn, record)
    txn.create(record, "key.generate")
    await txn.commit()
    return views.respond(views.new_key(record, key_text))


async def update(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, UpdateKeyRequest)
    current = await load_key(admin, body.key)
    record = apply(current.record, body, admin.now)
    txn = admin.transaction()
    await bind_team(admin, txn, record)  # a key moved to another team is checked against it
    txn.replace(current, record, "key.update")
    await txn.commit()
    return views.respond({"key": record.token, **views.key(record)})


async def info(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, frozenset({"key"}))
    current = await load_key(admin, bodies.required(params, "key"))
    spent = await spend_queries.spend_of(admin.db, [current.record], admin.now)
    [row] = spend_views.with_spend([views.key(current.record)], spent)
    row.pop("token")  # as LiteLLM: the hash is the answer's "key"
    return views.respond({"key": current.record.token, "info": row})


def _listing(params: dict[str, str]) -> entities.Listing:
    equals: dict[str, Any] = {}
    for name, attribute in (("key_alias", "key_alias"), ("key_hash", "token")):
        if params.get(name):
            equals[attribute] = params[name]
    team_id, user_id = params.get("team_id"), params.get("user_id")
    if team_id:
        return entities.team_keys(
            team_id, equals={**equals, **({"user_id": user_id} if user_id else {})}
        )
    if user_id:
        return entities.user_keys(user_id, equals=equals)
    return entities.everything(table.KEYS_KIND, equals=equals)


async def list_keys(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, LIST_PARAMS)
    number = bodies.integer(params, "page", default=1, high=1_000_000)
    size = bodies.integer(params, "size", default=10, high=MAX_PAGE_SIZE)
    full = bodies.flag(params, "return_full_object")
    items, total = await entities.page(
        admin.db, _listing(params), skip=(number - 1) * size, take=size
    )
    records = [KeyRecord.from_fields(item) for item in items]
    shown: list[Any] = [r.token for r in records]
    if full:
        spent = await spend_queries.spend_of(admin.db, records, admin.now)
        shown = spend_views.with_spend([views.key(r) for r in records], spent)
    return views.respond(
        {
            "keys": shown,
            "total_count": total,
            "current_page": number,
            "total_pages": views.pages(total, size),
        }
    )


routes = [
    admin_route("/key/generate", generate),
    admin_route("/key/update", update),
    admin_route("/key/info", info, "GET"),
    admin_route("/key/list", list_keys, "GET"),
]
