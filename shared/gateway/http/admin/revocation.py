"""Ending or suspending keys: /key/delete, /key/block, /key/unblock, /key/regenerate.

Rotation (`/key/regenerate`, `/key/{key}/regenerate`, LiteLLM's RegenerateKeyRequest):
the new key's record keeps the old one's `key_id` (rate-limit state hangs off it),
alias, team, limits and `expires`, with the request's fields applied. Without a
`grace_period` the old record is deleted; with one it keeps working until the grace
ends: it gets `expires` (the earlier of now + grace and its own expiry), `rotated_to`
(the new key's hash) and a TTL, so DynamoDB removes it afterwards. A key already
rotated cannot be rotated again (its successor can).

Deleting, blocking or unblocking a key does the same to its predecessors that are
still in their grace period: revoking the new key must not leave the old one working.
`/key/delete` answers `{"deleted_keys": [...]}` with the hashes of the keys named
(or the aliases, for `key_aliases`); all of them must exist, or nothing is deleted.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from gateway.errors import InvalidRequestError, NotFoundError
from gateway.http.admin import bodies, views
from gateway.http.admin.bodies import BlockKeyRequest, KeyRequest, RegenerateKeyRequest
from gateway.http.admin.durations import seconds_after
from gateway.http.admin.endpoint import admin_route
from gateway.http.admin.keys import apply
from gateway.http.admin.policy import bind_team, load_key
from gateway.store import entities, table
from gateway.store.keys import display_name, generate_key, hash_key, token_of

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.admin.endpoint import Admin
    from gateway.schemas.records import KeyRecord
    from gateway.store.entities import Stored, Transaction


async def lineage(admin: Admin, current: Stored[KeyRecord]) -> list[Stored[KeyRecord]]:
    """The key and its rotated predecessors that still work (same key_id)."""
    record = current.record
    if not record.key_id:
        return [current]
    listing = entities.everything(table.KEYS_KIND, equals={"key_id": record.key_id})
    older = [
        found
        for found in await entities.keys_in(admin.db, listing)
        if found.record.token != record.token
        and found.record.rotated_to is not None
        and not found.record.is_expired(admin.now)
    ]
    return [current, *older]


async def _by_alias(admin: Admin, alias: str) -> list[Stored[KeyRecord]]:
    listing = entities.everything(table.KEYS_KIND, equals={"key_alias": alias})
    found = await entities.keys_in(admin.db, listing)
    if not found:
        raise NotFoundError(f"No key has the alias '{alias}'.", param="key_aliases")
    return found


async def delete(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, KeyRequest)
    named = [await load_key(admin, ref, param="keys") for ref in body.keys or ()]
    for alias in body.key_aliases or ():
        named.extend(await _by_alias(admin, alias))
    doomed: dict[str, Stored[KeyRecord]] = {}
    for key in named:
        doomed.update((k.record.token, k) for k in await lineage(admin, key))
    txn = admin.transaction()
    for key in doomed.values():
        txn.delete(key, "key.delete")
    await txn.commit()
    deleted = [token_of(ref) for ref in body.keys or ()] + list(body.key_aliases or ())
    return views.respond({"deleted_keys": deleted})


async def _set_blocked(request: Request, admin: Admin, *, blocked: bool) -> Response:
    body = await bodies.read(request, BlockKeyRequest)
    current = await load_key(admin, body.key)
    txn = admin.transaction()
    action = "key.block" if blocked else "key.unblock"
    for key in await lineage(admin, current):
        txn.replace(
            key, dataclasses.replace(key.record, blocked=blocked, updated_at=admin.now), action
        )
    await txn.commit()
    record = dataclasses.replace(current.record, blocked=blocked, updated_at=admin.now)
    return views.respond(views.key(record))


async def block(request: Request, admin: Admin) -> Response:
    return await _set_blocked(request, admin, blocked=True)


async def unblock(request: Request, admin: Admin) -> Response:
    return await _set_blocked(request, admin, blocked=False)


def _named(body_key: str | None, path_key: str | None) -> str:
    if body_key and path_key and token_of(body_key) != token_of(path_key):
        raise InvalidRequestError("The key in the path and in the body differ.", param="key")
    ref = body_key or path_key
    if not ref:
        raise InvalidRequestError("'key' is required.", param="key")
    return ref


def _retire(
    txn: Transaction, current: Stored[KeyRecord], successor: KeyRecord, grace: str | None, now: int
) -> None:
    seconds = seconds_after(grace, now) if grace else 0
    if seconds <= 0:
        txn.delete(current, "key.regenerate")
        return
    old = current.record
    end = now + seconds if old.expires is None else min(now + seconds, old.expires)
    retired = dataclasses.replace(old, expires=end, rotated_to=successor.token, updated_at=now)
    txn.replace(current, retired, "key.regenerate", ttl=end)


async def regenerate(request: Request, admin: Admin) -> Response:
    # LiteLLM's `POST /key/{key}/regenerate` may come without a body.
    body = await bodies.read(request, RegenerateKeyRequest, may_be_empty=True)
    current = await load_key(admin, _named(body.key, request.path_params.get("key")))
    if current.record.rotated_to is not None:
        raise InvalidRequestError(
            "This key was already rotated; rotate the key that replaced it.", param="key"
        )
    key_text = generate_key()
    renamed = dataclasses.replace(
        current.record, token=hash_key(key_text), key_name=display_name(key_text)
    )
    successor = apply(renamed, body, admin.now)
    txn = admin.transaction()
    await bind_team(admin, txn, successor)
    txn.create(successor, "key.regenerate")
    _retire(txn, current, successor, body.grace_period, admin.now)
    await txn.commit()
    return views.respond(views.new_key(successor, key_text))


routes = [
    admin_route("/key/delete", delete),
    admin_route("/key/block", block),
    admin_route("/key/unblock", unblock),
    admin_route("/key/regenerate", regenerate),
    admin_route("/key/{key}/regenerate", regenerate),
]
