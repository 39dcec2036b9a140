"""The audit trail: one record per admin change, written in the change's own transaction.

An audit record's pk is `AUDIT#<kind>#<id>` (a key's id is its hash) and its sk
`<ISO 8601 time>#<request id>`. It holds the actor, the action (`key.generate`,
`team.update`, ...), kind, id, the record's fields before and after the change (a
key's hash and display form, never the key), `at` (epoch seconds) and the request
id. The gateway never updates or deletes an audit record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gateway.store import table
from gateway.store.dynamo import encode_item

MASTER_KEY_ACTOR = "master_key"


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who changes things, in which request, at what time (epoch seconds)."""

    actor: str
    request_id: str
    at: float


def timestamp(at: float) -> str:
    """ISO 8601 in UTC with microseconds: sorts as text in time order."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def audit_item(
    context: AuditContext,
    *,
    kind: str,
    entity_id: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "pk": table.audit_pk(kind, entity_id),
        "sk": f"{timestamp(context.at)}#{context.request_id}",
        "actor": context.actor,
        "action": action,
        "kind": kind,
        "id": entity_id,
        "before": before,
        "after": after,
        "at": int(context.at),
        "request_id": context.request_id,
    }


def audit_put(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """A TransactWriteItems action that adds the record (never overwriting one)."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": encode_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
