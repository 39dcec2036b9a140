"""Budget periods: which period a moment falls in, for a `budget_duration`.

A period is part of its budget item's key (`BUDGET#<scope>#<id>` / `<period id>`), so a
new period is a new item and starts exactly on time: there is no reset job. Periods
follow LiteLLM's calendar-aligned resets, in UTC:

| budget_duration          | period                                         |
|--------------------------|------------------------------------------------|
| none                     | one period for ever (`all`)                    |
| `1d`, `24h`              | the UTC day                                    |
| `7d`, `1w`               | the ISO week, from Monday 00:00 UTC            |
| `30d`, `1mo`             | the calendar month                             |
| `Nmo`                    | N calendar months, counted from January 1970   |
| `Nw`                     | N weeks, counted from Monday 1970-01-05        |
| any other `Ns/Nm/Nh/Nd`  | windows of that length, counted from the epoch |

The period id is `<duration>@<start epoch seconds>`: deterministic from the clock, and
a changed duration starts a new period.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_DURATION = re.compile(r"(\d{1,6})(s|m|h|d|w|mo)")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_FIRST_MONDAY = 4 * 86400  # 1970-01-05 00:00 UTC
FOREVER = "all"


@dataclass(frozen=True, slots=True)
class Period:
    id: str
    start: int  # epoch seconds
    end: int | None  # epoch seconds, exclusive; None for the unbounded period


def _months(start_month: int) -> int:
    """Epoch seconds at the start of month number `start_month` (0 = January 1970)."""
    year, month = divmod(start_month, 12)
    return int(dt.datetime(1970 + year, month + 1, 1, tzinfo=dt.UTC).timestamp())


def period_of(duration: str | None, now: float) -> Period:
    """The period of `duration` containing `now` (ValueError for a malformed duration)."""
    if not duration:
        return Period(FOREVER, 0, None)
    match = _DURATION.fullmatch(duration)
    if match is None:
        raise ValueError(f"not a budget duration: {duration!r}")
    count, unit = int(match.group(1)), match.group(2)
    if count <= 0:
        raise ValueError(f"not a budget duration: {duration!r}")
    if unit == "mo" or (unit == "d" and count == 30):
        span = 1 if unit == "d" else count
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        index = ((moment.year - 1970) * 12 + moment.month - 1) // span * span
        start, end = _months(index), _months(index + span)
    else:
        length = count * _SECONDS[unit]
        origin = _FIRST_MONDAY if length % _SECONDS["w"] == 0 else 0
        start = origin + int((now - origin) // length) * length
        end = start + length
    return Period(f"{duration}@{start}", start, end)
