"""GET /spend/logs, GET /global/spend/report, GET /spend/tags: LiteLLM's spend queries.

Parameters and shapes are LiteLLM's (litellm/proxy/spend_tracking/
spend_management_endpoints.py: view_spend_logs, get_global_spend_report,
view_spend_tags); rows are shaped in spend_views.py. Where LiteLLM's answer would be
unbounded or its SQL cannot be mirrored by the table, the gateway says so with a 400
rather than answer something else:

- /spend/logs filters by `request_id` (a GetItem), `api_key` (the key or its hash),
  `user_id`, `team_id`, `start_date` and `end_date` (YYYY-MM-DD, inclusive, UTC; ISO 8601
  times too), and answers rows newest first. Several filters combine (AND). Without
  paging parameters the answer is LiteLLM's JSON list, of at most 1000 rows: more is a
  400 asking for `page_size` (1-1000, default 100) and `cursor`, which answer
  `{"data", "page_size", "next_cursor"}`. LiteLLM's default `summarize=true` for a
  date range (a per-day summary) is not offered: rows are always listed and
  `summarize=true` is a 400 pointing at /global/spend/report. Without any filter the
  day index is read, over at most 366 days (the last 30 when no dates are given).
- /global/spend/report needs both dates (as LiteLLM) and `group_by=team` (default) or
  `model`; LiteLLM's `customer` and `api_key` groupings need per-request reads and are
  a 400.
- /spend/tags sums the day report's tag rows; it needs both dates (LiteLLM's own
  /spend/tags reads every log ever written, which the table cannot do in one answer).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from gateway.errors import InvalidRequestError, UnsupportedParameterError
from gateway.http.admin import bodies, spend_views, views
from gateway.http.admin.endpoint import admin_route
from gateway.store import spend_queries
from gateway.store.keys import token_of
from gateway.store.spend_queries import BadCursorError, LogFilter

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.http.admin.endpoint import Admin

LOG_PARAMS = frozenset(
    {
        "api_key",
        "user_id",
        "team_id",
        "request_id",
        "start_date",
        "end_date",
        "summarize",
        "page_size",
        "cursor",
    }
)
REPORT_PARAMS = frozenset({"start_date", "end_date", "group_by"})
TAG_PARAMS = frozenset({"start_date", "end_date"})
GROUPS = ("team", "model")
MAX_DAYS = 366
DEFAULT_DAYS = 30
LIST_LIMIT = 1000  # rows in an answer without paging
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_EXAMINED = 5000  # logs one answer may read when filters drop most of them
MAX_TEXT = 256
DAY_MS = 86_400_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# ---- parameters -----------------------------------------------------------------------


def _text(params: dict[str, str], name: str) -> str | None:
    if name not in params:
        return None
    value = params[name].strip()
    if not value or len(value) > MAX_TEXT or not value.isprintable():
        raise InvalidRequestError(f"'{name}' must be 1 to {MAX_TEXT} characters.", param=name)
    return value


def _date(params: dict[str, str], name: str) -> dt.date | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidRequestError(f"'{name}' must be a date, YYYY-MM-DD.", param=name)


def _ms(day: dt.date) -> int:
    return (dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(
        milliseconds=1
    )


def _moment(params: dict[str, str], name: str, *, end: bool) -> int | None:
    """Epoch ms of a date (its first ms, or its last when `end`: end dates are inclusive)
    or of an ISO 8601 time (UTC unless it says otherwise)."""
    text = params.get(name)
    if text is None:
        return None
    if _DATE.fullmatch(text):
        return _ms(_required_day(params, name)) + (DAY_MS - 1 if end else 0)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError(
            f"'{name}' must be a date (YYYY-MM-DD) or an ISO 8601 time.", param=name
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    ms = (moment - _EPOCH) // dt.timedelta(milliseconds=1)
    if not 0 <= ms <= spend_queries.MAX_MS:
        raise InvalidRequestError(f"'{name}' must be between 1970 and 2286.", param=name)
    return ms


def _day_of(ms: int) -> dt.date:
    return (_EPOCH + dt.timedelta(milliseconds=ms)).date()


def _span(first: dt.date, last: dt.date, params: dict[str, str]) -> list[str]:
    """The days first..last (YYYY-MM-DD), at most MAX_DAYS of them."""
    if last < first:
        raise InvalidRequestError("'end_date' is before 'start_date'.", param="end_date")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        param = "start_date" if "start_date" in params else "end_date"
        raise InvalidRequestError(
            f"The dates span {count} days; at most {MAX_DAYS} can be read at once.", param=param
        )
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(count)]


def _required_day(params: dict[str, str], name: str) -> dt.date:
    day = _date(params, name)
    if day is None:
        raise InvalidRequestError(f"'{name}' is required (YYYY-MM-DD).", param=name)
    return day


def _required_days(params: dict[str, str]) -> list[str]:
    first = _required_day(params, "start_date")
    return _span(first, _required_day(params, "end_date"), params)


# ---- /spend/logs ----------------------------------------------------------------------


def _log_filter(params: dict[str, str], now_ms: int) -> tuple[LogFilter, list[str]]:
    """The filter, and the days the day index would read (newest first)."""
    api_key = _text(params, "api_key")
    start = _moment(params, "start_date", end=False)
    end = _moment(params, "end_date", end=True)
    if start is not None and end is not None and end < start:
        raise InvalidRequestError("'end_date' is before 'start_date'.", param="end_date")
    wanted = LogFilter(
        api_key=None if api_key is None else token_of(api_key),
        user_id=_text(params, "user_id"),
        team_id=_text(params, "team_id"),
        start_ms=0 if start is None else start,
        end_ms=spend_queries.MAX_MS if end is None else end,
    )
    if wanted.api_key or wanted.user_id or wanted.team_id or "request_id" in params:
        return wanted, []
    last = _day_of(now_ms if end is None else end)
    first = last - dt.timedelta(days=DEFAULT_DAYS - 1) if start is None else _day_of(start)
    return wanted, list(reversed(_span(first, last, params)))


def _paging(params: dict[str, str]) -> int | None:
    """The page size, or None for LiteLLM's plain list."""
    if "page_size" not in params and "cursor" not in params:
        return None
    return bodies.integer(params, "page_size", default=DEFAULT_PAGE_SIZE, high=MAX_PAGE_SIZE)


async def logs(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, LOG_PARAMS)
    if bodies.flag(params, "summarize"):
        raise UnsupportedParameterError(
            "summarize=true (a per-day summary) is not supported: /spend/logs lists rows; "
            "use /global/spend/report for daily totals.",
            param="summarize",
        )
    wanted, days = _log_filter(params, admin.now * 1000)
    page_size = _paging(params)
    request_id = _text(params, "request_id")
    if request_id is not None:
        if "cursor" in params:
            raise InvalidRequestError("A request_id lookup has no pages.", param="cursor")
        item = await spend_queries.ledger(admin.db, request_id)
        rows = [spend_views.log(item)] if item is not None and wanted.matches(item) else []
        return views.respond(rows if page_size is None else _paged(rows, page_size, None))
    src = spend_queries.source(wanted, days)
    after = None
    if "cursor" in params:
        try:
            after = spend_queries.decode_cursor(params["cursor"], src)
        except BadCursorError:
            raise InvalidRequestError(
                "'cursor' is not a cursor this listing handed out.", param="cursor"
            ) from None
    limit = LIST_LIMIT if page_size is None else page_size
    page = await spend_queries.log_page(admin.db, src, limit, after, max_examined=MAX_EXAMINED)
    rows = [spend_views.log(item) for item in page.items]
    if page_size is not None:
        cursor = None if page.after is None else spend_queries.encode_cursor(page.after)
        return views.respond(_paged(rows, page_size, cursor))
    if page.after is not None:
        raise InvalidRequestError(
            f"More spend logs match than one answer lists ({LIST_LIMIT}), or the filters "
            f"leave too few of the {MAX_EXAMINED} read: page with 'page_size' and 'cursor', "
            "or narrow the dates.",
            param="page_size",
        )
    return views.respond(rows)


def _paged(rows: list[dict[str, Any]], page_size: int, cursor: str | None) -> dict[str, Any]:
    return {"data": rows, "page_size": page_size, "next_cursor": cursor}


# ---- reports --------------------------------------------------------------------------


async def report(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, REPORT_PARAMS)
    group_by = params.get("group_by", "team")
    if group_by not in GROUPS:
        raise InvalidRequestError(
            f"group_by must be one of {', '.join(GROUPS)} (per-request groupings such as "
            "customer or api_key are not reported).",
            param="group_by",
        )
    days = await spend_queries.report_rows(admin.db, _required_days(params))
    aliases = await spend_queries.team_aliases(admin.db, spend_views.report_teams(days))
    return views.respond(spend_views.report(days, group_by, aliases))


async def tags(request: Request, admin: Admin) -> Response:
    params = bodies.query(request, TAG_PARAMS)
    days = await spend_queries.report_rows(admin.db, _required_days(params))
    return views.respond(spend_views.tags(days))


routes = [
    admin_route("/spend/logs", logs, "GET"),
    admin_route("/spend/tags", tags, "GET"),
    admin_route("/global/spend/report", report, "GET"),
]
