"""The Prometheus collector: every value is computed at scrape time from the newest manifest.

Nothing is pushed by the pipeline and nothing is cached between scrapes except the immutable
manifest itself, so `finance_reconciliation_age_minutes` keeps growing while no run happens —
which is exactly what `FinanceReconciliationLagHigh` needs (contracts §4, runbook §2).

When the store cannot be read the exporter keeps answering: `finance_reconciliation_report_up`
drops to 0, `finance_reconciliation_scrape_error` rises to 1 and the report-derived series are
left out (so `absent()` fires) rather than repeating stale values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from finance_recon.contracts import BREAK_CATEGORIES, CATEGORIES, VERDICTS
from finance_recon.metrics.latest import SOURCES, InvalidReportError, LatestReader, LatestReport
from finance_recon.report.store import ReportStore, StoreError

log = logging.getLogger(__name__)

PREFIX = "finance_reconciliation"

# name -> (help, labels). The two runbook names come first; they are fixed by the runbook.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    f"{PREFIX}_last_updated_timestamp": (
        "Unix time (seconds) when the newest published reconciliation run ended (run_ended_at).",
        (),
    ),
    f"{PREFIX}_age_minutes": (
        "Minutes since the newest published reconciliation run ended, computed at scrape time. SLA: 30.",
        (),
    ),
    f"{PREFIX}_last_updated_timestamp_seconds": (
        "Alias of finance_reconciliation_last_updated_timestamp in the base-unit naming convention.",
        (),
    ),
    f"{PREFIX}_age_seconds": ("Seconds since the newest published reconciliation run ended.", ()),
    f"{PREFIX}_as_of_timestamp_seconds": ("Unix time of the cut-off (as_of) of the newest run.", ()),
    f"{PREFIX}_run_duration_seconds": (
        "Wall-clock duration of the newest run (run_ended_at - run_started_at).",
        (),
    ),
    f"{PREFIX}_source_max_updated_at_timestamp_seconds": (
        "Newest updated_at the newest run saw in each source (its watermark).",
        ("source",),
    ),
    f"{PREFIX}_source_lag_seconds": (
        "How far each source's newest updated_at was behind the run's as_of: replication/CDC lag.",
        ("source",),
    ),
    f"{PREFIX}_breaks": ("Breaks per category in the newest run.", ("category",)),
    f"{PREFIX}_rows": ("Reconciled rows per category (breaks and settled) in the newest run.", ("category",)),
    f"{PREFIX}_verdict": ("1 for the verdict of the newest run, 0 for the others.", ("verdict",)),
    # The correctness prober (finance_recon/probe/): absent when the newest run did not probe.
    f"{PREFIX}_probe_success": (
        "1 when the newest run's synthetic probe items got their expected categories, else 0.",
        (),
    ),
    f"{PREFIX}_probe_last_run_timestamp": (
        "Unix time (seconds) when the newest run that carried the correctness probe ended.",
        (),
    ),
    f"{PREFIX}_report_up": ("1 when the newest report was read at this scrape, else 0.", ()),
    f"{PREFIX}_scrape_error": (
        "1 when the report store could not be read or holds an invalid report at this scrape, else 0.",
        (),
    ),
    f"{PREFIX}_scrape_duration_seconds": ("Time taken to read the report store at this scrape.", ()),
}


class ReportCollector(Collector):
    """A custom collector over a report store; `clock` returns unix seconds (tests pass a fake)."""

    def __init__(self, store: ReportStore, clock: Callable[[], float] = time.time):
        self.reader = LatestReader(store)
        self.clock = clock
        self._last_error: str | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe() the registry would call collect() (and read the store) at registration.
        for name, (help_text, labels) in METRICS.items():
            yield GaugeMetricFamily(name, help_text, labels=list(labels) or None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        started = time.perf_counter()
        report: LatestReport | None = None
        error = False
        try:
            report = self.reader.read()
            self._note_error(None)
        except (StoreError, InvalidReportError) as exc:
            error = True
            self._note_error(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # never let a scrape kill the exporter
            error = True
            self._note_error(f"unexpected {type(exc).__name__}: {exc}")
            log.debug("scrape failed", exc_info=True)
        elapsed = time.perf_counter() - started
        now = self.clock()

        if report is not None:
            yield from self._report_metrics(report, now)
        yield _gauge("report_up", 1 if report is not None else 0)
        yield _gauge("scrape_error", 1 if error else 0)
        yield _gauge("scrape_duration_seconds", elapsed)

    def _report_metrics(self, report: LatestReport, now: float) -> Iterator[GaugeMetricFamily]:
        ended = report.run_ended_timestamp
        age = report.age_seconds(now)
        yield _gauge("last_updated_timestamp", ended)
        yield _gauge("age_minutes", age / 60.0)
        yield _gauge("last_updated_timestamp_seconds", ended)
        yield _gauge("age_seconds", age)
        yield _gauge("as_of_timestamp_seconds", report.as_of.timestamp())
        if report.run_started_at is not None:
            yield _gauge("run_duration_seconds", ended - report.run_started_at.timestamp())

        watermark = _family("source_max_updated_at_timestamp_seconds")
        lag = _family("source_lag_seconds")
        for source in SOURCES:
            value = report.watermarks.get(source)
            if value is not None:  # null watermark: the source had no rows yet; no series
                watermark.add_metric([source], value.timestamp())
                lag.add_metric([source], report.source_lag_seconds(source))
        yield watermark
        yield lag

        breaks = _family("breaks")
        for category in BREAK_CATEGORIES:
            breaks.add_metric([category], report.counts.get(category, 0))
        yield breaks
        rows = _family("rows")
        known = list(CATEGORIES) + sorted(set(report.counts) - set(CATEGORIES))
        for category in known:
            rows.add_metric([category], report.counts.get(category, 0))
        yield rows

        verdict = _family("verdict")
        for name in list(VERDICTS) + ([report.verdict] if report.verdict not in VERDICTS else []):
            verdict.add_metric([name], 1 if name == report.verdict else 0)
        yield verdict

        probe = report.manifest.get("probe")
        if isinstance(probe, dict) and isinstance(probe.get("success"), bool):
            yield _gauge("probe_success", 1 if probe["success"] else 0)
            yield _gauge("probe_last_run_timestamp", ended)

    def _note_error(self, message: str | None) -> None:
        # Log transitions only: a store down for an hour must not log every 15 s scrape.
        if message != self._last_error:
            if message is None:
                log.warning("report store readable again")
            else:
                log.warning("cannot read the newest report: %s", message)
        self._last_error = message


def _family(short: str) -> GaugeMetricFamily:
    name = f"{PREFIX}_{short}"
    help_text, labels = METRICS[name]
    return GaugeMetricFamily(name, help_text, labels=list(labels))


def _gauge(short: str, value: float) -> GaugeMetricFamily:
    name = f"{PREFIX}_{short}"
    return GaugeMetricFamily(name, METRICS[name][0], value=value)
