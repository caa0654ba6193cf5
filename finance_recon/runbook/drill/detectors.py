"""The three detectors of a late report: the exporter's age gauge, the FreshnessDaemon's state,
the Prometheus alert. `breached()` → True / False, or None when it cannot tell right now."""

from __future__ import annotations

import time

from finance_recon.names import LAG_ALERT, REPORT_KEY
from finance_recon.runbook.drill.prometheus import alert_firing, scrape_gauge
from finance_recon.settings import Settings

AGE_METRIC = "finance_reconciliation_age_minutes"


class Detector:
    """`breached()` → True / False, or None when it cannot tell right now (treated as "not yet")."""

    name = "detector"

    def describe(self) -> str:
        return self.name

    def breached(self) -> bool | None:
        raise NotImplementedError


class ExporterAge(Detector):
    name = "exporter"

    def __init__(self, settings: Settings, sla_minutes: float, metrics_url: str | None):
        self.settings, self.sla, self.url = settings, sla_minutes, metrics_url
        self.last_age: float | None = None

    def describe(self) -> str:
        source = (
            f"scraped from {self.url}"
            if self.url
            else "computed from the newest manifest as the exporter does"
        )
        return f"exporter: {AGE_METRIC} > {self.sla:g} ({source})"

    def age(self) -> float | None:
        if self.url:
            return scrape_gauge(self.url, AGE_METRIC)
        from finance_recon.metrics.latest import read_latest

        report = read_latest(self.settings)
        return None if report is None else report.age_seconds() / 60

    def breached(self) -> bool | None:
        try:
            self.last_age = self.age()
        except Exception:  # noqa: BLE001 - an exporter restarting is "cannot tell", not a crash
            return None
        return None if self.last_age is None else self.last_age > self.sla


class FreshnessFail(Detector):
    name = "freshness"

    def describe(self) -> str:
        return "freshness: the FreshnessDaemon recorded FAIL for finance_reconciliation_report"

    def state(self) -> str | None:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            record = instance.get_freshness_state_records([REPORT_KEY]).get(REPORT_KEY)
        return record.freshness_state.value if record else None

    def breached(self) -> bool | None:
        state = self.state()
        if state in (None, "UNKNOWN", "NOT_APPLICABLE"):
            return None
        return state == "FAIL"


class PrometheusAlert(Detector):
    name = "prometheus"

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def describe(self) -> str:
        return f"prometheus: alert {LAG_ALERT} firing at {self.url}"

    def breached(self) -> bool | None:
        return alert_firing(self.url, LAG_ALERT)


def freshness_daemon_running(max_silence_s: float = 120) -> bool:
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        heartbeat = instance.get_daemon_heartbeats().get("FRESHNESS_DAEMON")
    return heartbeat is not None and time.time() - heartbeat.timestamp < max_silence_s
