"""The single table's layout: partition and sort keys of every entity, and its indexes.

| entity | pk                      | sk                | gsi1 (by kind)       | gsi2 / gsi3       |
|--------|-------------------------|-------------------|----------------------|-------------------|
| key    | KEY#<sha256 of the key> | KEY               | KEYS / <created>#id  | TEAM#id / USER#id |
| team   | TEAM#<team_id>          | TEAM              | TEAMS / <created>#id |                   |
| user   | USER#<user_id>          | USER              | USERS / <created>#id | TEAM#id (1st)     |
| limits | LIMIT#<scope>#<id>      | LIMIT             |                      |                   |
| audit  | AUDIT#<kind>#<id>       | <ts>#<request id> |                      |                   |
| router | COOLDOWN#<deployment>   | COOLDOWN          | (gateway/router/cooldowns.py)            |
| router | USAGE#<deployment>      | USAGE             | (gateway/router/usage.py)                |
| budget | BUDGET#<scope>#<id>     | <period id>       | (gateway/store/budgets.py)               |
| ledger | SPEND#<request id>      | SPEND             | LOGS#<day> / <ms>#rid; see below         |
| spend  | SPENDAGG#<scope>#<id>   | <day> or TOTAL    | per key, team, user, model, tag          |
| report | SPENDDAY#<day>          | <team>#<model>    | one row per team and model group per day |

The ledger item (one per request, the spend log) is in four indexes, each sorted by
`<start ms, 13 digits>#<request id>`: gsi1 `LOGS#<day>` (every request of a day),
gsi2 `LOGS#TEAM#<team_id>`, gsi3 `LOGS#USER#<user_id>` and gsi4 `LOGS#KEY#<key hash>`.

`expires_at` (epoch seconds) is the TTL attribute; TTL deletion is lazy, so readers
always compare it with the clock themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.schemas.records import KeyRecord, TeamRecord

if TYPE_CHECKING:
    from gateway.schemas.records import UserRecord

KIND_INDEX = "gsi1"
TEAM_INDEX = "gsi2"
USER_INDEX = "gsi3"
KEY_LOG_INDEX = "gsi4"  # spend logs by key hash (only ledger items carry gsi4pk)
TTL_ATTRIBUTE = "expires_at"

KEY_SK = "KEY"
TEAM_SK = "TEAM"
USER_SK = "USER"
LIMIT_SK = "LIMIT"
LEDGER_SK = "SPEND"
TOTAL_SK = "TOTAL"  # a spend aggregate's all-time row; daily rows are sorted by day
NO_TEAM = "-"  # the report's team column for requests without a team

KEYS_KIND = "KEYS"
TEAMS_KIND = "TEAMS"
USERS_KIND = "USERS"


def key_pk(token: str) -> str:
    return f"KEY#{token}"


def team_pk(team_id: str) -> str:
    return f"TEAM#{team_id}"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def limit_pk(scope: str, entity_id: str) -> str:
    return f"LIMIT#{scope}#{entity_id}"


def budget_pk(scope: str, entity_id: str) -> str:
    return f"BUDGET#{scope}#{entity_id}"


def ledger_pk(request_id: str) -> str:
    return f"SPEND#{request_id}"


def spend_pk(scope: str, entity_id: str) -> str:
    """Spend aggregates of one entity; scope is key (key_id), team, user, model or tag."""
    return f"SPENDAGG#{scope}#{entity_id}"


def report_pk(day: str) -> str:
    return f"SPENDDAY#{day}"


def logs_pk(scope: str | None, entity_id: str) -> str:
    """A spend-log index partition: a day's (scope None), or a team's, user's or key's."""
    return f"LOGS#{entity_id}" if scope is None else f"LOGS#{scope.upper()}#{entity_id}"


def audit_pk(kind: str, entity_id: str) -> str:
    return f"AUDIT#{kind}#{entity_id}"


def item_of(record: KeyRecord | TeamRecord | UserRecord) -> dict[str, Any]:
    """The DynamoDB item of a record: its fields plus keys and index attributes."""
    item = record.fields()
    if isinstance(record, KeyRecord):
        sort = f"{record.created_at:012d}#{record.token}"
        item.update(pk=key_pk(record.token), sk=KEY_SK, gsi1pk=KEYS_KIND, gsi1sk=sort)
        if record.team_id:
            item.update(gsi2pk=team_pk(record.team_id), gsi2sk=sort)
        if record.user_id:
            item.update(gsi3pk=user_pk(record.user_id), gsi3sk=sort)
    elif isinstance(record, TeamRecord):
        sort = f"{record.created_at:012d}#{record.team_id}"
        item.update(pk=team_pk(record.team_id), sk=TEAM_SK, gsi1pk=TEAMS_KIND, gsi1sk=sort)
    else:
        sort = f"{record.created_at:012d}#{record.user_id}"
        item.update(pk=user_pk(record.user_id), sk=USER_SK, gsi1pk=USERS_KIND, gsi1sk=sort)
        if record.teams:
            item.update(gsi2pk=team_pk(record.teams[0]), gsi2sk=sort)
    return item
