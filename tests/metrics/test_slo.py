"""The freshness SLO's error budget (finance_recon.metrics.slo, runbook.budget).

- from publication times: hand-computed timelines, one per rule of the arithmetic;
- from a real Prometheus on loopback running the shipped SLO rules (only the group's interval
  compressed from 1m to 1s) over the real exporter: a stale report spends the budget, a fresh one
  does not; the diagnosis falls back to the history when Prometheus is absent.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml

from finance_recon.metrics.slo import (
    DEFAULT_OBJECTIVE,
    PrometheusUnavailable,
    from_prometheus,
    from_publications,
    rules_objective,
)
from finance_recon.report.store import LocalReportStore
from finance_recon.runbook.budget import error_budget
from tests.metrics.metrics_helpers import publish_report, require_binary
from tests.metrics.test_prometheus_e2e import PROJECT_ROOT, start, stop, wait_until
from tests.services import free_port

SLO_RULES = PROJECT_ROOT / "deploy" / "prometheus" / "rules" / "finance_reconciliation_slo.rules.yml"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out = []
    while start <= end:
        out.append(start)
        start += step
    return out


def test_runs_every_ten_minutes_spend_nothing():
    budget = from_publications(every(NOW - timedelta(days=30), NOW, 10 * MIN), NOW)
    assert budget.error_ratio == 0 and budget.remaining == 1
    assert budget.observed_minutes == 28 * 1440  # a report before the window: the whole window observed
    assert budget.allowed_bad_minutes == pytest.approx(403.2)


def test_one_gap_spends_its_minutes_past_the_threshold():
    # Reports every 10 minutes, except one gap of 100 minutes: stale for 100 - 30 = 70 minutes.
    times = every(NOW - timedelta(days=29), NOW - timedelta(days=3), 10 * MIN)
    times += every(NOW - timedelta(days=3) + 100 * MIN, NOW, 10 * MIN)
    budget = from_publications(times, NOW)
    assert budget.bad_minutes == pytest.approx(70)
    assert budget.remaining == pytest.approx(1 - 70 / 403.2)


def test_the_time_since_the_newest_report_counts_too():
    # The job stopped 2 hours ago: the last 90 minutes are stale (the report is still aging).
    times = every(NOW - timedelta(days=29), NOW - 120 * MIN, 10 * MIN)
    assert from_publications(times, NOW).bad_minutes == pytest.approx(90)


def test_a_young_history_is_judged_on_what_it_observed():
    # The instance is 2 days old: observed from its first publication; 20 stale minutes of 2880.
    times = every(NOW - timedelta(days=2), NOW - timedelta(days=1), 10 * MIN)
    times += every(NOW - timedelta(days=1) + 50 * MIN, NOW, 10 * MIN)
    budget = from_publications(times, NOW)
    assert budget.observed_minutes == pytest.approx(2880)
    assert budget.bad_minutes == pytest.approx(20)
    assert budget.remaining == pytest.approx(1 - (20 / 2880) / 0.01)


def test_a_gap_straddling_the_window_start_counts_only_inside_it():
    start = NOW - timedelta(days=28)
    times = [start - 60 * MIN, *every(start + 60 * MIN, NOW, 10 * MIN)]
    # stale from start - 30 min to start + 60 min; inside the window: 60 minutes
    assert from_publications(times, NOW).bad_minutes == pytest.approx(60)


def test_overspent_budget_is_negative_and_the_objective_matters():
    times = every(NOW - timedelta(days=29), NOW - timedelta(days=1), 10 * MIN)  # stale the last ~day
    strict = from_publications(times, NOW, objective=0.999)
    loose = from_publications(times, NOW, objective=0.9)
    assert strict.remaining < loose.remaining < 1
    assert strict.remaining < 0
    assert from_publications([], NOW) is None
    assert from_publications([NOW + MIN], NOW) is None  # nothing published before now


def test_default_objective_matches_the_shipped_rules_and_the_settings(monkeypatch):
    from finance_recon.settings import ENV_SLO_OBJECTIVE, load_settings

    monkeypatch.delenv(ENV_SLO_OBJECTIVE, raising=False)
    assert rules_objective(SLO_RULES) == DEFAULT_OBJECTIVE == load_settings().slo_objective
    monkeypatch.setenv(ENV_SLO_OBJECTIVE, "0.995")
    assert load_settings().slo_objective == 0.995
    for bad in ("99", "1", "0", "ninety-nine"):
        monkeypatch.setenv(ENV_SLO_OBJECTIVE, bad)
        with pytest.raises(
            ValueError, match="FINANCE_RECON_SLO_OBJECTIVE=.*expected a ratio between 0 and 1"
        ):
            load_settings()


def test_no_prometheus_falls_back_to_the_history_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # an empty instance: no publication yet
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PrometheusUnavailable, match="did not answer"):
        from_prometheus(url, timeout_s=2)
    look = error_budget(0.99, url, NOW)
    assert look.budget is None
    assert "did not answer" in look.note and "no report publication recorded" in look.note


def _compressed_slo_rules(tmp_path: Path) -> Path:
    """The shipped SLO rules, unchanged except the group's evaluation every second instead of minute."""
    doc = yaml.safe_load(SLO_RULES.read_text())
    assert doc["groups"][0]["interval"] == "1m"
    doc["groups"][0]["interval"] = "1s"
    path = tmp_path / "slo.rules.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.slow
def test_budget_from_a_real_prometheus_running_the_shipped_rules(tmp_path: Path):
    prometheus = require_binary("prometheus")
    deadline = time.monotonic() + 100
    store_root = tmp_path / "finance-reports"
    store = LocalReportStore(store_root)
    publish_report(store, "run-stale", datetime.now(UTC) - timedelta(minutes=45))  # past the SLA
    procs = {}
    try:
        exporter_log = tmp_path / "exporter.log"
        procs["exporter"] = start(
            [
                sys.executable,
                "-m",
                "finance_recon.metrics",
                "serve",
                "--port",
                "0",
                "--reports-uri",
                str(store_root),
            ],
            exporter_log,
            cwd=PROJECT_ROOT,
        )
        line = wait_until(
            lambda: next(
                (ln for ln in exporter_log.read_text().splitlines() if "serving http://" in ln), None
            ),
            "the exporter to listen",
            60,
            deadline,
        )
        target = line.split("serving http://", 1)[1].split("/", 1)[0]
        prom_port = free_port()
        prom_url = f"http://127.0.0.1:{prom_port}"
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(_compressed_slo_rules(tmp_path))],
            "scrape_configs": [{"job_name": "finance_recon", "static_configs": [{"targets": [target]}]}],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        procs["prometheus"] = start(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path / "prometheus.log",
        )
        wait_until(
            lambda: requests.get(f"{prom_url}/-/ready", timeout=2).ok, "prometheus ready", 30, deadline
        )

        def budget_after(samples: int):
            try:
                b = from_prometheus(prom_url)
            except PrometheusUnavailable:
                return None
            return b if b.observed_minutes >= samples else None

        stale = wait_until(lambda: budget_after(3), "3 evaluations of a stale report", 45, deadline)
        assert stale.source == f"prometheus {prom_url}"
        assert stale.objective == 0.99
        assert stale.error_ratio == pytest.approx(1)  # every evaluated minute so far was stale
        assert stale.remaining == pytest.approx(-99)  # 100 times the budget spent
        assert stale.burn_rates["1h"] == pytest.approx(100)

        publish_report(store, "run-fresh", datetime.now(UTC), previous_run_id="run-stale")
        seen = stale.observed_minutes
        later = wait_until(
            lambda: (b := budget_after(seen + 3)) and b.error_ratio < 1 and b, "fresh minutes", 45, deadline
        )
        assert -99 < later.remaining < 1  # fresh minutes stop the spending, what was spent stays spent
        # diagnose's look prefers Prometheus when it is configured.
        look = error_budget(0.99, prom_url)
        assert look.budget is not None and look.budget.source.startswith("prometheus") and look.note is None
    except BaseException:
        for log in sorted(tmp_path.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        raise
    finally:
        for proc in procs.values():
            stop(proc)
