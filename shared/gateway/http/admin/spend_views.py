"""Spend as LiteLLM's spend endpoints show it (litellm/proxy/spend_tracking/).

- A spend log is a LiteLLM_SpendLogs row (schema.prisma; SpendLogsPayload in
  litellm/proxy/_types.py, filled by spend_tracking_utils.get_logging_payload):
  `spend` in USD, `startTime`/`endTime`/`completionStartTime` ISO 8601 UTC, `cache_hit`
  the string "True"/"False" (LiteLLM stores `str(bool)`), `request_tags` a list, `user`
  the key's user, `end_user` the request's `user` field, and `metadata` LiteLLM's
  SpendLogsMetadata names (`user_api_key`, `user_api_key_alias`, ..., `status`,
  `error_information`, `additional_usage_values` as a Usage object carries them) plus
  the gateway's own `requested_model`, `stream`, `attempts`, `billed_attempts` and
  `usage_estimated`. There are no `messages`, `response`, `api_base` or `cache_key`:
  the gateway keeps no prompts and no upstream addresses.
- The daily report is /global/spend/report's `group_by=team` answer: per day
  (`group_by_day`, midnight UTC as LiteLLM's date_trunc gives it) the teams with
  `team_name`, `total_spend` and `metadata` [{model, spend, total_tokens}]. The day rows
  are per team and model group, not per key, so entries carry no `api_key`; `model` is
  the model group. Each team also carries its `team_id`. `group_by=model` is the
  gateway's mirror of it: per model group, the teams that spent on it.
- /spend/tags: [{individual_request_tag, log_count, total_spend}].
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from gateway.http.admin.views import iso, usd
from gateway.store import table

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gateway.store.dynamo import Item
    from gateway.store.spend_queries import Spend

CALL_TYPE = "acompletion"  # LiteLLM's call type for (async) chat completions
NO_TEAM_NAME = "Unassigned Team"  # LiteLLM's team_name for spend without a team


def iso_ms(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _int(item: Item, name: str) -> int:
    return int(item.get(name) or 0)


def _metadata(item: Item) -> dict[str, Any]:
    failed = item.get("status") == "failure"
    error = {
        "error_code": str(item.get("status_code", "")),
        "error_class": item.get("error_code"),
        "llm_provider": item.get("provider"),
    }
    cached = _int(item, "cached_tokens")
    return {
        "user_api_key": item.get("api_key", ""),
        "user_api_key_alias": item.get("key_alias"),
        "user_api_key_team_id": item.get("team_id"),
        "user_api_key_user_id": item.get("user_id"),
        "status": item.get("status", "success"),
        "error_information": error if failed else None,
        "additional_usage_values": {
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": _int(item, "reasoning_tokens")},
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": _int(item, "cache_write_tokens"),
        },
        "requested_model": item.get("requested_model"),
        "stream": bool(item.get("stream", False)),
        "attempts": _int(item, "attempts"),
        "billed_attempts": _int(item, "billed_attempts"),
        "usage_estimated": bool(item.get("usage_estimated", False)),
    }


def log(item: Item) -> dict[str, Any]:
    """A ledger item as a LiteLLM_SpendLogs row."""
    start, end = _int(item, "start_ms"), _int(item, "end_ms")
    ttft = item.get("ttft_ms")
    prompt, completion = _int(item, "prompt_tokens"), _int(item, "completion_tokens")
    return {
        "request_id": item["request_id"],
        "call_type": CALL_TYPE,
        "api_key": item.get("api_key", ""),
        "spend": usd(_int(item, "spend_micros")),
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "startTime": iso_ms(start),
        "endTime": iso_ms(end),
        "request_duration_ms": max(0, end - start),
        # LiteLLM's completion start defaults to the end time when nothing was streamed
        "completionStartTime": iso_ms(end if ttft is None else start + int(ttft)),
        "model": item.get("model", ""),
        "model_id": item.get("model_id") or "",
        "model_group": item.get("model_group", ""),
        "custom_llm_provider": item.get("provider") or "",
        "user": item.get("user_id") or "",
        "team_id": item.get("team_id") or "",
        "end_user": item.get("end_user") or "",
        "metadata": _metadata(item),
        "cache_hit": str(bool(item.get("cache_hit", False))),
        "request_tags": list(item.get("tags") or ()),
        "status": item.get("status", "success"),
    }


# ---- daily report ---------------------------------------------------------------------


def _midnight(day: str) -> str:
    return f"{day}T00:00:00+00:00"


def _team_name(team_id: str | None, aliases: dict[str, str | None]) -> str:
    if team_id is None:
        return NO_TEAM_NAME
    return aliases.get(team_id) or team_id


def _sums(rows: Iterable[Item], outer: str) -> dict[Any, dict[Any, list[int]]]:
    """outer value -> inner value -> [spend micros, tokens], over a day's team rows;
    outer is "team" (inner the model group) or "model" (inner the team)."""
    sums: dict[Any, dict[Any, list[int]]] = {}
    for row in rows:
        if not str(row.get("sk", "")).startswith("T#"):
            continue
        team, model = row.get("team_id"), str(row.get("model_group", ""))
        first, second = (team, model) if outer == "team" else (model, team)
        acc = sums.setdefault(first, {}).setdefault(second, [0, 0])
        acc[0] += _int(row, "spend_micros")
        acc[1] += _int(row, "prompt_tokens") + _int(row, "completion_tokens")
    return sums


def _ranked(entries: list[dict[str, Any]], spend: str, name: str) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (-e[spend], str(e[name])))


def report(
    days: dict[str, list[Item]], group_by: str, aliases: dict[str, str | None]
) -> list[dict[str, Any]]:
    """/global/spend/report: days in order, each with its teams (or model groups)."""
    out: list[dict[str, Any]] = []
    for day in sorted(days):
        sums = _sums(days[day], group_by)
        if not sums:
            continue
        groups: list[dict[str, Any]] = []
        for outer, inner in sums.items():
            total = usd(sum(acc[0] for acc in inner.values()))
            if group_by == "team":
                head = {"team_name": _team_name(outer, aliases), "team_id": outer}
                detail = [
                    {"model": model, "spend": usd(acc[0]), "total_tokens": acc[1]}
                    for model, acc in inner.items()
                ]
                metadata = _ranked(detail, "spend", "model")
            else:
                head = {"model": outer}
                detail = [
                    {
                        "team_name": _team_name(team, aliases),
                        "team_id": team,
                        "spend": usd(acc[0]),
                        "total_tokens": acc[1],
                    }
                    for team, acc in inner.items()
                ]
                metadata = _ranked(detail, "spend", "team_name")
            groups.append({**head, "total_spend": total, "metadata": metadata})
        name = "team_name" if group_by == "team" else "model"
        key = "teams" if group_by == "team" else "models"
        out.append({"group_by_day": _midnight(day), key: _ranked(groups, "total_spend", name)})
    return out


def report_teams(days: dict[str, list[Item]]) -> list[str]:
    """The team ids a report names (their aliases are its team names)."""
    found = {row.get("team_id") for rows in days.values() for row in rows}
    return sorted(t for t in found if isinstance(t, str) and t != table.NO_TEAM)


def tags(days: dict[str, list[Item]]) -> list[dict[str, Any]]:
    """/spend/tags: each tag's requests and spend over the days, biggest spend first."""
    sums: dict[str, list[int]] = {}
    for rows in days.values():
        for row in rows:
            if str(row.get("sk", "")).startswith("G#") and isinstance(row.get("tag"), str):
                acc = sums.setdefault(row["tag"], [0, 0])
                acc[0] += _int(row, "requests")
                acc[1] += _int(row, "spend_micros")
    entries = [
        {"individual_request_tag": tag, "log_count": acc[0], "total_spend": usd(acc[1])}
        for tag, acc in sums.items()
    ]
    return _ranked(entries, "total_spend", "individual_request_tag")


# ---- an entity's spend ----------------------------------------------------------------


def spend_fields(spend: Spend) -> dict[str, Any]:
    """LiteLLM's `spend` (USD: the current budget period's, else lifetime) and
    `budget_reset_at` (when the period ends; null without a budget_duration)."""
    return {"spend": usd(spend.micros), "budget_reset_at": iso(spend.reset_at)}


def with_spend(rows: list[dict[str, Any]], spends: list[Spend]) -> list[dict[str, Any]]:
    """Rows (keys, teams, users) with their spend fields, in the same order."""
    return [{**row, **spend_fields(spent)} for row, spent in zip(rows, spends, strict=True)]
