"""The drill's sequence without a job or servers (fast): a fake job publishes a manifest the way the
publisher does, the exporter age is computed from the store, the SLA is a few seconds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from finance_recon.report.store import LocalReportStore
from finance_recon.runbook.drill import DrillOptions, run_drill
from finance_recon.settings import load_settings
from tests.metrics.metrics_helpers import publish_report


def _settings(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    monkeypatch.delenv("FINANCE_RECON_REPORTS_URI", raising=False)
    return load_settings()


def test_drill_sequence_detects_and_recovers_with_a_fake_job(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch)
    store = LocalReportStore(settings.reports_uri)
    runs: list[str] = []

    def fake_job(_settings):
        run_id = str(uuid.uuid4())
        publish_report(store, run_id, datetime.now(UTC))
        runs.append(run_id)
        return run_id, True, None

    lines: list[str] = []
    result = run_drill(
        settings,
        DrillOptions(sla_minutes=0.05, poll_seconds=0.2, detect_timeout_s=30, recover_timeout_s=30),
        run_job=fake_job,
        echo=lines.append,
    )
    assert result.ok, result.render()
    assert len(runs) == 2  # preflight (no report yet) and restart
    assert result.run_id == runs[1]
    assert result.detectors == ["exporter"]
    assert 0 <= result.time_to_detect()["exporter"] < 5
    assert result.time_to_recover()["exporter"] < 5
    steps = [e.step for e in result.events]
    assert steps.index("hold") < steps.index("detected") < steps.index("restart") < steps.index("recovered")
    assert len(lines) == len(result.events)
    assert "drill PASSED" in result.render()


def test_drill_fails_loudly_when_the_restart_fails(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch).model_copy()
    store = LocalReportStore(settings.reports_uri)
    calls = {"n": 0}

    def job_then_failure(_settings):
        calls["n"] += 1
        if calls["n"] == 1:
            run_id = str(uuid.uuid4())
            publish_report(store, run_id, datetime.now(UTC))
            return run_id, True, None
        return "failed-run", False, "step payments failed: boom"

    result = run_drill(
        settings,
        DrillOptions(sla_minutes=0.05, poll_seconds=0.2, detect_timeout_s=30, recover_timeout_s=5),
        run_job=job_then_failure,
    )
    assert not result.ok
    assert "restart run failed-run failed" in result.error
    assert "exporter" in result.detected and "exporter" not in result.recovered
    assert "drill FAILED" in result.render()
