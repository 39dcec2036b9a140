"""LiteLLM's duration strings: "30s", "30m", "30h", "30d", "2w", "1mo".

Used for a key's `duration` (-> `expires`), a rotation's `grace_period` and, stored as
given, every `budget_duration`. Unlike LiteLLM, which reads the leading digits and
ignores the rest, the whole string must match: "30 days" is a 400, not 30 seconds.
Durations are capped at 100 years, so every `expires` is a representable date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

_DURATION = re.compile(r"(\d{1,6})(s|m|h|d|w|mo)")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_MONTHS = 1200
MAX_SECONDS = 36525 * 86400  # 100 years


def is_duration(text: str) -> bool:
    match = _DURATION.fullmatch(text)
    if match is None:
        return False
    count, unit = int(match.group(1)), match.group(2)
    return count <= MAX_MONTHS if unit == "mo" else count * _SECONDS[unit] <= MAX_SECONDS


def seconds_after(text: str, now: float) -> int:
    """How many seconds from `now` the duration ends (months are calendar months)."""
    match = _DURATION.fullmatch(text)
    if match is None or not is_duration(text):
        raise ValueError(f"not a duration: {text!r}")
    count, unit = int(match.group(1)), match.group(2)
    if unit != "mo":
        return count * _SECONDS[unit]
    start = dt.datetime.fromtimestamp(now, dt.UTC)
    months = start.month - 1 + count
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int((start.replace(year=year, month=month, day=day) - start).total_seconds())


def ends_at(text: str, now: float) -> int:
    """Epoch seconds at which a duration starting `now` ends."""
    return int(now) + seconds_after(text, now)
