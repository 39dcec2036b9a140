"""The DynamoDB updates on a limit item (`LIMIT#<scope>#<id>`), as pure functions.

Conditions never do arithmetic (DynamoDB has none): limits are compared with
counters (`requests < :rpm`), and a new window is recognised by `#w < :w`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.store import table
from gateway.store.dynamo import encode_item, values

if TYPE_CHECKING:
    from gateway.schemas.records import Limits
    from gateway.store.dynamo import Item

WINDOW_S = 60
LEASE_S = 120
ITEM_TTL_S = 86_400  # idle limit items are deleted by TTL a day after their last use


def window_of(now: float) -> int:
    return int(now // WINDOW_S)


def _key(pk: str) -> dict[str, Any]:
    return encode_item({"pk": pk, "sk": table.LIMIT_SK})


def admission(
    pk: str, limits: Limits, request_id: str, now: float, old: Item | None, *, missing: bool
) -> dict[str, Any]:
    """Count one request (and take a lease) in the form the item's known state calls for:
    create it (`missing`), roll a new window over (`old` is from an earlier window), or
    add to the current window under the limits."""
    window = max(window_of(now), int(old.get("window", 0)) if old else 0)
    lease = limits.max_parallel_requests is not None
    named: dict[str, Any] = {"w": window, "expires": int(now) + ITEM_TTL_S, "one": 1}
    names = {"#w": "window"}
    if missing:
        named.update(zero=0, leases={request_id: int(now) + LEASE_S} if lease else {})
        update = "SET #w = :w, requests = :one, tokens = :zero, leases = :leases, "
        update += "expires_at = :expires"
        conditions = ["attribute_not_exists(pk)"]
    elif old is not None and int(old.get("window", 0)) < window:
        named["zero"] = 0
        update = "SET #w = :w, requests = :one, tokens = :zero, expires_at = :expires"
        conditions = ["#w < :w"]
    else:
        update = "SET expires_at = :expires"
        conditions = ["#w = :w"]
        if limits.rpm_limit is not None:
            conditions.append("requests < :rpm")
            named["rpm"] = limits.rpm_limit
        if limits.tpm_limit is not None:
            conditions.append("tokens < :tpm")
            named["tpm"] = limits.tpm_limit
    if lease and not missing:
        update += ", leases.#rid = :deadline"
        names["#rid"] = request_id
        named.update(deadline=int(now) + LEASE_S, par=limits.max_parallel_requests)
        conditions.append("size(leases) < :par")
    if conditions[0] == "#w = :w":
        update += " ADD requests :one"
    return {
        "Key": _key(pk),
        "UpdateExpression": update,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values(**named),
    }


def release(
    pk: str, request_id: str, now: float, *, lease: bool, tokens: int
) -> list[dict[str, Any]]:
    """Updates to try in turn until one applies: drop the lease, add the tokens to the
    current window (or start it, when no request has been admitted in it yet)."""
    names = {"#rid": request_id} if lease else {}
    remove = " REMOVE leases.#rid" if lease else ""
    if tokens <= 0:
        return [
            {
                "Key": _key(pk),
                "UpdateExpression": remove.strip(),
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": names,
            }
        ]
    window = window_of(now)
    names["#w"] = "window"
    same = {
        "Key": _key(pk),
        "UpdateExpression": f"ADD tokens :n{remove}",
        "ConditionExpression": "#w = :w",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values(n=tokens, w=window),
    }
    rolled = {
        "Key": _key(pk),
        "UpdateExpression": f"SET #w = :w, requests = :zero, tokens = :n{remove}",
        "ConditionExpression": "#w < :w",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values(n=tokens, w=window, zero=0),
    }
    return [same, rolled, same]


def renewal(pk: str, request_id: str, now: float) -> dict[str, Any]:
    return {
        "Key": _key(pk),
        "UpdateExpression": "SET leases.#rid = :deadline",
        "ConditionExpression": "attribute_exists(leases.#rid)",
        "ExpressionAttributeNames": {"#rid": request_id},
        "ExpressionAttributeValues": values(deadline=int(now) + LEASE_S),
    }


def expired_leases(item: Item, now: float) -> list[str]:
    return [rid for rid, deadline in (item.get("leases") or {}).items() if deadline <= now]


def drop_leases(pk: str, request_ids: list[str]) -> dict[str, Any]:
    names = {f"#r{i}": rid for i, rid in enumerate(request_ids)}
    return {
        "Key": _key(pk),
        "UpdateExpression": "REMOVE " + ", ".join(f"leases.{name}" for name in names),
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeNames": names,
    }
