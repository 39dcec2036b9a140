"""Budget periods: calendar-aligned in UTC, deterministic, starting exactly on time."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.spend.periods import FOREVER, period_of


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def iso(seconds: int | None) -> str:
    assert seconds is not None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def test_no_duration_is_one_period_for_ever() -> None:
    period = period_of(None, at("2026-12-01T10:00:00"))
    assert (period.id, period.start, period.end) == (FOREVER, 0, None)


@pytest.mark.parametrize("duration", ["1d", "24h"])
def test_a_day_is_the_utc_day(duration: str) -> None:
    period = period_of(duration, at("2026-12-01T23:59:59"))
    assert iso(period.start) == "2026-12-01T00:00:00+00:00"
    assert iso(period.end) == "2026-12-02T00:00:00+00:00"
    assert period_of(duration, at("2026-12-02T00:00:00")).start == period.end


@pytest.mark.parametrize("duration", ["7d", "1w"])
def test_a_week_starts_on_monday(duration: str) -> None:
    period = period_of(duration, at("2026-12-06T12:00:00"))  # a Sunday
    assert iso(period.start) == "2026-11-30T00:00:00+00:00"  # Monday
    assert iso(period.end) == "2026-12-07T00:00:00+00:00"


@pytest.mark.parametrize("duration", ["30d", "1mo"])
def test_a_month_is_the_calendar_month(duration: str) -> None:
    period = period_of(duration, at("2026-02-28T23:00:00"))
    assert iso(period.start) == "2026-02-01T00:00:00+00:00"
    assert iso(period.end) == "2026-03-01T00:00:00+00:00"


def test_several_months_count_from_january_1970() -> None:
    period = period_of("3mo", at("2026-05-15T00:00:00"))
    assert iso(period.start) == "2026-04-01T00:00:00+00:00"
    assert iso(period.end) == "2026-07-01T00:00:00+00:00"
    december = period_of("1mo", at("2026-12-31T23:59:59"))
    assert iso(december.end) == "2027-01-01T00:00:00+00:00"


def test_other_lengths_are_epoch_aligned_windows() -> None:
    period = period_of("10m", at("2026-12-01T10:17:00"))
    assert iso(period.start) == "2026-12-01T10:10:00+00:00"
    assert period.end is not None
    assert period.end - period.start == 600
    assert period.id == f"10m@{period.start}"


def test_the_period_id_changes_exactly_at_the_boundary() -> None:
    boundary = at("2027-01-01T00:00:00")
    assert period_of("1mo", boundary - 0.001).id != period_of("1mo", boundary).id
    assert period_of("1mo", boundary).id == period_of("1mo", boundary + 86_400).id


@pytest.mark.parametrize("bad", ["", "0d", "30 days", "1y", "d", "-1d"])
def test_malformed_durations_are_refused(bad: str) -> None:
    if bad == "":
        assert period_of(bad, 0).id == FOREVER
        return
    with pytest.raises(ValueError, match="budget duration"):
        period_of(bad, 0)
