"""Delta histograms and their OTLP/HTTP JSON document (no I/O, no OpenTelemetry SDK).

The OpenTelemetry Protocol's JSON encoding of `ExportMetricsServiceRequest`
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): field names in
lowerCamelCase, 64-bit integers as decimal strings, enums as their numbers, attributes
as `{"key": ..., "value": {"stringValue" | "intValue" | "boolValue": ...}}`. Each
histogram is delta temporality: a point covers the time since the previous export, so a
sandbox that is thawed, or a new one, never restates what another already sent.

The number of series is bounded (MAX_SERIES): past it, a point is recorded under the
single overflow series `otel.metric.overflow: true`, as OpenTelemetry SDKs do.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

DELTA = 1  # AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
MAX_SERIES = 2000
OVERFLOW: tuple[tuple[str, str | int | bool], ...] = (("otel.metric.overflow", True),)

Attributes = tuple[tuple[str, str | int | bool], ...]


@dataclass(frozen=True, slots=True)
class Instrument:
    name: str
    unit: str
    description: str
    bounds: tuple[float, ...]  # explicit bucket boundaries, ascending


@dataclass(slots=True)
class Histogram:
    """One series: an instrument's points under one set of attributes."""

    counts: list[int]
    total: float = 0.0
    count: int = 0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float, bounds: tuple[float, ...]) -> None:
        # OTLP buckets are (previous bound, bound]: a value equal to a bound falls in it.
        self.counts[bisect.bisect_left(bounds, value)] += 1
        self.total += value
        self.count += 1
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def merge(self, other: Histogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total
        self.count += other.count
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)


@dataclass(slots=True)
class Aggregate:
    """The histograms of every instrument since `start_ns` (the last export)."""

    start_ns: int
    series: dict[tuple[Instrument, Attributes], Histogram] = field(default_factory=dict)

    def record(self, instrument: Instrument, value: float, attributes: Attributes) -> None:
        key = (instrument, attributes)
        histogram = self.series.get(key)
        if histogram is None:
            if len(self.series) >= MAX_SERIES:
                key = (instrument, OVERFLOW)
                histogram = self.series.get(key)
            if histogram is None:
                histogram = self.series[key] = Histogram([0] * (len(instrument.bounds) + 1))
        histogram.add(value, instrument.bounds)

    def merge(self, older: Aggregate) -> None:
        """Take back points an export could not deliver (they are older than ours)."""
        self.start_ns = min(self.start_ns, older.start_ns)
        for (instrument, attributes), histogram in older.series.items():
            mine = self.series.get((instrument, attributes))
            if mine is None:
                self.series[(instrument, attributes)] = histogram
            else:
                mine.merge(histogram)


def _value(value: str | int | bool) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": value}


def attributes(pairs: Attributes) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in pairs]


def document(
    aggregate: Aggregate, end_ns: int, resource: Attributes, scope: tuple[str, str]
) -> dict[str, Any]:
    """The ExportMetricsServiceRequest of an aggregate, as OTLP/HTTP JSON."""
    points: dict[Instrument, list[dict[str, Any]]] = {}
    for (instrument, pairs), histogram in aggregate.series.items():
        points.setdefault(instrument, []).append(
            {
                "attributes": attributes(pairs),
                "startTimeUnixNano": str(aggregate.start_ns),
                "timeUnixNano": str(end_ns),
                "count": str(histogram.count),
                "sum": histogram.total,
                "bucketCounts": [str(n) for n in histogram.counts],
                "explicitBounds": list(instrument.bounds),
                "min": histogram.low,
                "max": histogram.high,
            }
        )
    metrics = [
        {
            "name": instrument.name,
            "unit": instrument.unit,
            "description": instrument.description,
            "histogram": {"aggregationTemporality": DELTA, "dataPoints": data},
        }
        for instrument, data in points.items()
    ]
    name, version = scope
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": attributes(resource)},
                "scopeMetrics": [{"scope": {"name": name, "version": version}, "metrics": metrics}],
            }
        ]
    }
