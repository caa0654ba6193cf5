"""The collector on fixture manifests: values, age growing with a fake clock, store failures."""

from __future__ import annotations

import json
from datetime import timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from finance_recon.contracts import BREAK_CATEGORIES
from finance_recon.metrics.server import build_registry
from finance_recon.report.store import LocalReportStore
from tests.metrics.metrics_helpers import T0, publish_report


class FakeClock:
    def __init__(self, start):
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs).total_seconds()


def scrape(registry) -> dict[tuple[str, tuple], float]:
    """Render the registry to the exposition format and parse it back, as Prometheus would."""
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_stale_report_values_and_age_growing_with_the_clock(local_store):
    ended = T0 - timedelta(minutes=40)
    publish_report(
        local_store,
        "run-1",
        ended,
        counts={"matched": 7, "underpaid": 2, "orphan_payment": 1, "in_flight": 3},
        orders_max_updated_at=ended - timedelta(minutes=5),
        payments_max_updated_at=ended - timedelta(minutes=45),
        as_of=ended - timedelta(minutes=1),
    )
    clock = FakeClock(T0)
    registry = build_registry(local_store, clock=clock)

    s = scrape(registry)
    assert value(s, "finance_reconciliation_last_updated_timestamp") == ended.timestamp()
    assert value(s, "finance_reconciliation_last_updated_timestamp_seconds") == ended.timestamp()
    assert value(s, "finance_reconciliation_age_minutes") == 40.0
    assert value(s, "finance_reconciliation_age_seconds") == 2400.0
    assert value(s, "finance_reconciliation_run_duration_seconds") == 90.0
    assert value(s, "finance_reconciliation_breaks", category="underpaid") == 2
    assert value(s, "finance_reconciliation_breaks", category="orphan_payment") == 1
    assert value(s, "finance_reconciliation_breaks", category="matched") is None  # settled, not a break
    assert {labels[0][1] for (name, labels) in s if name == "finance_reconciliation_breaks"} == set(
        BREAK_CATEGORIES
    )
    assert value(s, "finance_reconciliation_rows", category="in_flight") == 3
    assert value(s, "finance_reconciliation_verdict", verdict="breaks") == 1
    assert value(s, "finance_reconciliation_verdict", verdict="reconciled") == 0
    assert (
        value(s, "finance_reconciliation_source_max_updated_at_timestamp_seconds", source="orders")
        == (ended - timedelta(minutes=5)).timestamp()
    )
    # lag = as_of - watermark: orders 4 min behind the cut-off, payments 44 min.
    assert value(s, "finance_reconciliation_source_lag_seconds", source="orders") == 240.0
    assert value(s, "finance_reconciliation_source_lag_seconds", source="payments") == 44 * 60.0
    assert value(s, "finance_reconciliation_report_up") == 1
    assert value(s, "finance_reconciliation_scrape_error") == 0

    # Nothing runs: the age keeps growing at every scrape, the last update does not move.
    clock.advance(minutes=25)
    s = scrape(registry)
    assert value(s, "finance_reconciliation_age_minutes") == 65.0
    assert value(s, "finance_reconciliation_last_updated_timestamp") == ended.timestamp()


def test_a_new_run_moves_the_metrics_to_the_newest_manifest(local_store):
    publish_report(local_store, "run-1", T0 - timedelta(hours=2), counts={"matched": 1, "overpaid": 4})
    clock = FakeClock(T0)
    registry = build_registry(local_store, clock=clock)
    assert value(scrape(registry), "finance_reconciliation_age_minutes") == 120.0

    publish_report(
        local_store, "run-2", T0 - timedelta(minutes=1), counts={"matched": 5}, previous_run_id="run-1"
    )
    s = scrape(registry)
    assert value(s, "finance_reconciliation_age_minutes") == 1.0
    assert value(s, "finance_reconciliation_breaks", category="overpaid") == 0
    assert value(s, "finance_reconciliation_verdict", verdict="reconciled") == 1


def test_null_watermarks_give_no_source_series(local_store):
    publish_report(local_store, "run-1", T0, orders_max_updated_at=T0 - timedelta(minutes=3))
    s = scrape(build_registry(local_store, clock=FakeClock(T0)))
    assert (
        value(s, "finance_reconciliation_source_max_updated_at_timestamp_seconds", source="orders")
        is not None
    )
    assert (
        value(s, "finance_reconciliation_source_max_updated_at_timestamp_seconds", source="payments") is None
    )
    assert value(s, "finance_reconciliation_source_lag_seconds", source="payments") is None


def test_clock_behind_the_publisher_never_shows_a_negative_age(local_store):
    publish_report(local_store, "run-1", T0 + timedelta(seconds=20))
    s = scrape(build_registry(local_store, clock=FakeClock(T0)))
    assert value(s, "finance_reconciliation_age_minutes") == 0.0


def test_no_report_yet_exports_health_only(local_store):
    s = scrape(build_registry(local_store, clock=FakeClock(T0)))
    assert value(s, "finance_reconciliation_report_up") == 0
    assert value(s, "finance_reconciliation_scrape_error") == 0
    assert value(s, "finance_reconciliation_age_minutes") is None  # -> FinanceReconciliationMetricAbsent


def test_unreadable_store_sets_scrape_error_and_recovers(tmp_path):
    root = tmp_path / "finance-reports"
    root.write_text("a file where the store folder should be")  # every read fails with an OSError
    store = LocalReportStore(root)
    registry = build_registry(store, clock=FakeClock(T0))
    s = scrape(registry)
    assert value(s, "finance_reconciliation_report_up") == 0
    assert value(s, "finance_reconciliation_scrape_error") == 1
    assert value(s, "finance_reconciliation_age_minutes") is None

    root.unlink()
    publish_report(store, "run-1", T0 - timedelta(minutes=2))
    s = scrape(registry)
    assert value(s, "finance_reconciliation_scrape_error") == 0
    assert value(s, "finance_reconciliation_age_minutes") == 2.0


def test_latest_pointing_at_a_missing_manifest_is_a_scrape_error(local_store):
    local_store.put(
        "latest.json",
        json.dumps({"run_id": "x", "manifest_key": "dt=2026-11-28/run=x/manifest.json"}).encode(),
    )
    s = scrape(build_registry(local_store, clock=FakeClock(T0)))
    assert value(s, "finance_reconciliation_scrape_error") == 1
    assert value(s, "finance_reconciliation_report_up") == 0


def test_corrupt_manifest_is_a_scrape_error(local_store):
    key = publish_report(local_store, "run-1", T0)
    local_store.put(key, b"{not json")
    s = scrape(build_registry(local_store, clock=FakeClock(T0)))
    assert value(s, "finance_reconciliation_scrape_error") == 1


def test_without_latest_json_the_newest_manifest_is_found_by_listing(local_store):
    # The publisher crashed between manifest.json and latest.json: the run exists (contracts §3).
    publish_report(
        local_store, "run-a", T0 - timedelta(minutes=50), as_of=T0 - timedelta(minutes=51), write_latest=False
    )
    publish_report(
        local_store, "run-b", T0 - timedelta(minutes=5), as_of=T0 - timedelta(minutes=6), write_latest=False
    )
    s = scrape(build_registry(local_store, clock=FakeClock(T0)))
    assert value(s, "finance_reconciliation_age_minutes") == 5.0
