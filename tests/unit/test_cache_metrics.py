"""The response cache's lookup metric: one CloudWatch EMF line per lookup on stdout."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, get_args

import pytest

from gateway.cache import metrics, store

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    metrics._provider.cache_clear()  # the provider reads the environment when it is made
    yield
    metrics._provider.cache_clear()


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_lookup_prints_one_emf_line(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.record("hit")
    (line,) = _lines(capsys)
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "LLMGateway"
    assert directive["Dimensions"] == [["Result"]]
    assert directive["Metrics"] == [{"Name": "CacheLookups", "Unit": "Count"}]
    assert line["Result"] == "hit"
    assert line["CacheLookups"] in (1, [1])
    assert isinstance(line["_aws"]["Timestamp"], int)


def test_each_lookup_is_a_line_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    for status in ("miss", "bypass", "error"):
        metrics.record(status)
    lines = _lines(capsys)
    assert [line["Result"] for line in lines] == ["miss", "bypass", "error"]
    assert all(line["CacheLookups"] in (1, [1]) for line in lines)  # nothing accumulates


def test_the_service_dimension_follows_powertools(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "llm-gateway")  # as template.yaml sets it
    metrics.record("hit")
    (line,) = _lines(capsys)
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert sorted(directive["Dimensions"][0]) == ["Result", "service"]
    assert (line["Result"], line["service"]) == ("hit", "llm-gateway")


def test_an_unknown_result_is_counted_as_other(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.record("something-new\n")
    (line,) = _lines(capsys)
    assert line["Result"] == "other"


def test_metrics_can_be_switched_off(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.record("hit")
    assert capsys.readouterr().out == ""


def test_a_failing_flush_never_raises_nor_leaks_into_the_next(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = metrics._provider()

    def broken(**_: Any) -> None:
        raise OSError("stdout closed")

    with monkeypatch.context() as patch:
        patch.setattr(provider, "flush_metrics", broken)
        metrics.record("hit")  # no exception
    metrics.record("miss")
    (line,) = _lines(capsys)
    assert line["Result"] == "miss"
    assert line["CacheLookups"] in (1, [1])


def test_every_lookup_status_of_the_store_is_a_result() -> None:
    assert set(get_args(store.LookupStatus)) | {"bypass"} <= metrics.RESULTS
