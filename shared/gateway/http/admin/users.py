"""POST /user/new, POST /user/update, GET /user/info, GET /user/list, POST /user/delete.

Shapes are LiteLLM's (internal_user_endpoints.py): new answers NewUserResponse (the
user's fields over the auto-created key's row, with `key`, the key itself, shown
this once; "" when `auto_create_key` is false); update `{"user_id", "data": row}`;
info `{"user_id", "user_info", "keys", "teams"}`; list `{"users", "total", "page",
"page_size", "total_pages"}` (filters `role`, `team`, `user_ids`, `user_email`, the
last a case-sensitive substring); delete `{"deleted_users": ids}`.

A user's teams must exist. The auto-created key belongs to the user and to `team_id`
when given, and carries the user's models (LiteLLM's behaviour). Deleting a user
deletes the user's keys (LiteLLM: "delete user and associated user keys") and takes
the user out of its teams' `members_with_roles`, all audited, the user last.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import TYPE_CHECKING, Any

from gateway.errors import InvalidRequestError
from gateway.http.admin import bodies, spend_views, views
from gateway.http.admin.bodies import DeleteUserRequest, NewUserRequest, UpdateUserRequest
from gateway.http.admin.durations import ends_at
from gateway.http.admin.endpoint import admin_route
from gateway.http.admin.keys import fresh_key
from gateway.http.admin.policy import bind_team, load_team, load_user
from gateway.schemas.records import UserRecord
from gateway.store import entities, spend_queries, table

if TYPE_CHECKING:
    from collections.abc import Iterable

    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.admin.endpoint import Admin
    from gateway.schemas.records import KeyRecord
    from gateway.store.entities import Transaction

LIST_PARAMS = frozenset({"page", "page_size", "role", "team", "user_ids", "user_email"})
MAX_PAGE_SIZE = 100


async def _require_teams(admin: Admin, txn: Transaction, team_ids: Iterable[str]) -> None:
    for team_id in team_ids:
        txn.require(await load_team(admin, team_id, param="teams"), param="teams")


def _answer(user: UserRecord, key: KeyRecord | None, key_text: str) -> dict[str, Any]:
    shown = views.key(key) if key is not None else {"key_name": None, "expires": None}
    return {**shown, **views.user(user), "key": key_text}


async def new(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, NewUserRequest)
    user_id = body.user_id or str(uuid.uuid4())
    teams = tuple(dict.fromkeys([*(body.teams or ()), *([body.team_id] if body.team_id else [])]))
    user = UserRecord(
        **{**body.changes(), "user_id": user_id, "teams": teams},
        created_at=admin.now,
        updated_at=admin.now,
        created_by=admin.audit.actor,
    )
    txn = admin.transaction()
    key, key_text = None, ""
    if body.auto_create_key:
        key_text, blank = fresh_key(admin)
        expires = ends_at(body.duration, admin.now) if body.duration else None
        key = dataclasses.replace(
            blank,
            user_id=user_id,
            team_id=body.team_id,
            key_alias=body.key_alias,
            models=user.models,
            expires=expires,
        )
        await bind_team(admin, txn, key)  # pins the key's team
    await _require_teams(admin, txn, [t for t in teams if key is None or t != key.team_id])
    txn.create(user, "user.new", param="user_id")
    if key is not None:
        txn.create(key, "key.generate")
    await txn.commit()
    return views.respond(_answer(user, key, key_text))


async def update(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, UpdateUserRequest)
    current = await load_user(admin, body.user_id)
    record = dataclasses.replace(current.record, **body.changes(), updated_at=admin.now)
    txn = admin.transaction()
    await _require_teams(admin, txn, [t for t in record.teams if t not in current.record.teams])
    txn.replace(current, record, "user.update")
    await txn.commit()
    return views.respond({"user_id": record.user_id, "data": views.user(record)})


async def info(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, frozenset({"user_id"}))
    current = await load_user(admin, bodies.required(params, "user_id"))
    user = current.record
    keys = [k.record for k in await entities.keys_in(admin.db, entities.user_keys(user.user_id))]
    found = await asyncio.gather(*(entities.get_team(admin.db, t) for t in user.teams))
    teams = [t.record for t in found if t is not None]
    spent = await spend_queries.spend_of(admin.db, [user, *keys, *teams], admin.now)
    rows = spend_views.with_spend(
        [views.user(user), *map(views.key, keys), *map(views.team, teams)], spent
    )
    return views.respond(
        {
            "user_id": user.user_id,
            "user_info": rows[0],
            "keys": rows[1 : 1 + len(keys)],
            "teams": rows[1 + len(keys) :],
        }
    )


def _listing(params: dict[str, str]) -> entities.Listing:
    equals = {"user_role": params["role"]} if params.get("role") else {}
    contains = {"teams": params["team"]} if params.get("team") else {}
    if params.get("user_email"):
        contains["user_email"] = params["user_email"]
    ids = tuple(
        dict.fromkeys(i.strip() for i in params.get("user_ids", "").split(",") if i.strip())
    )
    if len(ids) > MAX_PAGE_SIZE:
        raise InvalidRequestError(f"At most {MAX_PAGE_SIZE} user_ids.", param="user_ids")
    within = {"user_id": ids} if ids else {}
    return entities.everything(table.USERS_KIND, equals=equals, contains=contains, within=within)


async def list_users(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, LIST_PARAMS)
    number = bodies.integer(params, "page", default=1, high=1_000_000)
    size = bodies.integer(params, "page_size", default=25, high=MAX_PAGE_SIZE)
    items, total = await entities.page(
        admin.db, _listing(params), skip=(number - 1) * size, take=size
    )
    records = [UserRecord.from_fields(item) for item in items]
    spent = await spend_queries.spend_of(admin.db, records, admin.now)
    users = spend_views.with_spend([views.user(r) for r in records], spent)
    return views.respond(
        {
            "users": users,
            "total": total,
            "page": number,
            "page_size": size,
            "total_pages": views.pages(total, size),
        }
    )


async def _leave_teams(
    admin: Admin, txn: Transaction, user_ids: list[str], teams: set[str]
) -> None:
    for team_id in sorted(teams):
        team = await entities.get_team(admin.db, team_id)
        if team is None:
            continue
        kept = tuple(m for m in team.record.members_with_roles if m.get("user_id") not in user_ids)
        if kept != team.record.members_with_roles:
            changed = dataclasses.replace(
                team.record, members_with_roles=kept, updated_at=admin.now
            )
            txn.replace(team, changed, "team.update")


async def delete(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, DeleteUserRequest)
    ids = list(dict.fromkeys(body.user_ids))
    users = [await load_user(admin, user_id, param="user_ids") for user_id in ids]
    txn = admin.transaction()
    for user_id in ids:
        for key in await entities.keys_in(admin.db, entities.user_keys(user_id)):
            txn.delete(key, "key.delete")
    await _leave_teams(admin, txn, ids, {t for u in users for t in u.record.teams})
    for user in users:
        txn.delete(user, "user.delete")
    await txn.commit()
    return views.respond({"deleted_users": ids})


routes = [
    admin_route("/user/new", new),
    admin_route("/user/update", update),
    admin_route("/user/info", info, "GET"),
    admin_route("/user/list", list_users, "GET"),
    admin_route("/user/delete", delete),
]
