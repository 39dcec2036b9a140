"""POST /team/new, POST /team/update, GET /team/info, GET /team/list, POST /team/delete.

Shapes are LiteLLM's (team_endpoints.py): new answers the team row; update
`{"team_id", "data": row}`; info `{"team_id", "team_info", "keys",
"team_memberships"}` (memberships are not modelled: always []); list a JSON array
of rows (`user_id` narrows it to that user's teams); delete `{"deleted_teams": ids}`.

An update may not leave any of the team's keys above the team (policy.py): lower
the key first. Deleting a team deletes its keys, takes it out of its users' `teams`
and deletes it last, all audited. If that is interrupted, the team still exists and
the delete can be repeated; keys that outlive their team are refused by the gateway,
and a team cannot be created again under that id while any remain.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import TYPE_CHECKING

from gateway.errors import InvalidRequestError
from gateway.http.admin import bodies, spend_views, views
from gateway.http.admin.bodies import DeleteTeamRequest, NewTeamRequest, UpdateTeamRequest
from gateway.http.admin.endpoint import admin_route
from gateway.http.admin.policy import excess, load_team, load_user, model_config
from gateway.schemas.records import TeamRecord, UserRecord
from gateway.store import entities, spend_queries, table

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.admin.endpoint import Admin
    from gateway.store.entities import Stored


async def new(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, NewTeamRequest)
    team_id = body.team_id or str(uuid.uuid4())
    _, leftovers = await entities.page(admin.db, entities.team_keys(team_id), skip=0, take=0)
    if leftovers:
        raise InvalidRequestError(
            f"{leftovers} key(s) of an earlier team '{team_id}' still exist; delete them "
            "(GET /key/list?team_id=...) or choose another team_id.",
            param="team_id",
        )
    record = TeamRecord(
        **{**body.changes(), "team_id": team_id},
        created_at=admin.now,
        updated_at=admin.now,
        created_by=admin.audit.actor,
    )
    txn = admin.transaction()
    txn.create(record, "team.new", param="team_id")
    await txn.commit()
    # spend too, as /team/info shows it: a team id used before may have spent already
    spent = await spend_queries.spend_of(admin.db, [record], admin.now)
    return views.respond(spend_views.with_spend([views.team(record)], spent)[0])


async def _check_keys(admin: Admin, team: TeamRecord) -> None:
    config = await model_config()
    for key in await entities.keys_in(admin.db, entities.team_keys(team.team_id)):
        problem = excess(key.record, team, config)
        if problem is not None:
            raise InvalidRequestError(
                f"Key {key.record.key_name} would not stay within the team: {problem.detail}. "
                "Change the key first.",
                param=problem.param,
            )


async def update(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, UpdateTeamRequest)
    current = await load_team(admin, body.team_id)
    record = dataclasses.replace(current.record, **body.changes(), updated_at=admin.now)
    await _check_keys(admin, record)
    txn = admin.transaction()
    txn.replace(current, record, "team.update")
    await txn.commit()
    return views.respond({"team_id": record.team_id, "data": views.team(record)})


async def info(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, frozenset({"team_id"}))
    current = await load_team(admin, bodies.required(params, "team_id"))
    team_id = current.record.team_id
    keys = [k.record for k in await entities.keys_in(admin.db, entities.team_keys(team_id))]
    spent = await spend_queries.spend_of(admin.db, [current.record, *keys], admin.now)
    rows = spend_views.with_spend([views.team(current.record), *map(views.key, keys)], spent)
    return views.respond(
        {
            "team_id": team_id,
            "team_info": rows[0],
            "keys": rows[1:],
            "team_memberships": [],
        }
    )


async def list_teams(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, frozenset({"user_id"}))
    if params.get("user_id"):
        user = await load_user(admin, params["user_id"])
        found = await asyncio.gather(*(entities.get_team(admin.db, t) for t in user.record.teams))
        teams = [t.record for t in found if t is not None]
    else:
        items = await entities.every(admin.db, entities.everything(table.TEAMS_KIND))
        teams = [TeamRecord.from_fields(item) for item in items]
    spent = await spend_queries.spend_of(admin.db, teams, admin.now)
    return views.respond(spend_views.with_spend([views.team(t) for t in teams], spent))


async def _members(admin: Admin, team_ids: set[str]) -> list[Stored[UserRecord]]:
    """Users with any of these teams in their `teams`."""
    members: dict[str, Stored[UserRecord]] = {}
    for team_id in sorted(team_ids):
        listing = entities.everything(table.USERS_KIND, contains={"teams": team_id})
        for item in await entities.every(admin.db, listing):
            found = entities.stored(UserRecord, item)
            members[found.record.user_id] = found
    return list(members.values())


async def delete(request: Request, admin: Admin) -> Response:
    body = await bodies.read(request, DeleteTeamRequest)
    ids = list(dict.fromkeys(body.team_ids))
    teams = [await load_team(admin, team_id, param="team_ids") for team_id in ids]
    txn = admin.transaction()
    for team_id in ids:
        for key in await entities.keys_in(admin.db, entities.team_keys(team_id)):
            txn.delete(key, "key.delete")
    for member in await _members(admin, set(ids)):
        kept = tuple(t for t in member.record.teams if t not in ids)
        changed = dataclasses.replace(member.record, teams=kept, updated_at=admin.now)
        txn.replace(member, changed, "user.update")
    for team in teams:
        txn.delete(team, "team.delete")  # last: an interrupted delete can be repeated
    await txn.commit()
    return views.respond({"deleted_teams": ids})


routes = [
    admin_route("/team/new", new),
    admin_route("/team/update", update),
    admin_route("/team/info", info, "GET"),
    admin_route("/team/list", list_teams, "GET"),
    admin_route("/team/delete", delete),
]
