"""The OTLP histogram aggregate (gateway/telemetry/otlp.py): OTLP's bucket rule, bounded
series, and taking back points an export could not deliver."""

from __future__ import annotations

from gateway.telemetry.otlp import MAX_SERIES, OVERFLOW, Aggregate, Instrument, document

LATENCY = Instrument("latency", "s", "", (1.0, 2.0))


def test_a_value_on_a_bound_falls_in_the_bucket_that_bound_closes() -> None:
    aggregate = Aggregate(start_ns=1)
    for value in (0.5, 1.0, 1.5, 2.0, 9.0):
        aggregate.record(LATENCY, value, (("a", "x"),))
    (histogram,) = aggregate.series.values()
    assert histogram.counts == [2, 2, 1]  # (-inf, 1], (1, 2], (2, +inf)
    assert (histogram.count, histogram.total, histogram.low, histogram.high) == (5, 14.0, 0.5, 9.0)


def test_series_past_the_bound_go_to_one_overflow_series() -> None:
    aggregate = Aggregate(start_ns=1)
    for i in range(MAX_SERIES + 50):
        aggregate.record(LATENCY, 1.0, (("model", f"m{i}"),))
    assert len(aggregate.series) == MAX_SERIES + 1
    assert aggregate.series[(LATENCY, OVERFLOW)].count == 50


def test_points_taken_back_merge_into_the_next_export() -> None:
    failed = Aggregate(start_ns=10)
    failed.record(LATENCY, 1.5, (("a", "x"),))
    later = Aggregate(start_ns=20)
    later.record(LATENCY, 3.0, (("a", "x"),))
    later.record(LATENCY, 0.1, (("a", "y"),))
    later.merge(failed)
    assert later.start_ns == 10
    assert later.series[(LATENCY, (("a", "x"),))].counts == [0, 1, 1]
    (resource_metrics,) = document(later, 30, (("service.name", "gw"),), ("s", "1"))[
        "resourceMetrics"
    ]
    (metric,) = resource_metrics["scopeMetrics"][0]["metrics"]
    points = metric["histogram"]["dataPoints"]
    assert {p["count"] for p in points} == {"2", "1"}
    assert {p["startTimeUnixNano"] for p in points} == {"10"}
    assert {p["timeUnixNano"] for p in points} == {"30"}
