"""End to end on loopback: the real `dagster-daemon` (FreshnessDaemon + SensorDaemon) turns a missed
freshness window into exactly one alert, and a new materialization into exactly one resolve.

A tiny code location (written to tmp) holds an asset with a 1-minute fail window (the smallest
Dagster accepts) and the platform's `freshness_alert_sensor`; the receivers are an HTTP server on
127.0.0.1. The daemon runs in its own process group, stopped by its PID in `finally`.
Bounded: about 2–3 minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CODE_LOCATION = """
from datetime import timedelta

from dagster import AssetKey, AssetSpec, Definitions, FreshnessPolicy

from finance_recon.alerting.resources import AlertingResource
from finance_recon.alerting.sensors import build_freshness_alert_sensor

REPORT = AssetKey("finance_reconciliation_report")

defs = Definitions(
    assets=[AssetSpec(REPORT, freshness_policy=FreshnessPolicy.time_window(fail_window=timedelta(minutes=1)))],
    sensors=[build_freshness_alert_sensor([REPORT])],
    resources={
        "alerting": AlertingResource(
            alertmanager_url="{receiver}",
            alert_webhook_url="{receiver}/hooks/e2e",
            runbook_url="https://runbooks.example/finance",
            refresh_seconds=3600.0,
        )
    },
)
"""


def _wait(predicate, timeout: float, what: str, process=None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"dagster-daemon exited early:\n{log.read_text()[-3000:] if log else ''}")
        value = predicate()
        if value:
            return value
        time.sleep(1)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


def test_freshness_breach_alerts_once_and_resolves_once(tmp_path, receiver, monkeypatch):
    from dagster import AssetKey, AssetMaterialization, DagsterInstance

    daemon = Path(sys.executable).parent / "dagster-daemon"
    if not daemon.exists():
        pytest.fail(f"{daemon} is missing: dagster is not installed in this environment")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    module = tmp_path / "e2e_location.py"
    module.write_text(CODE_LOCATION.replace("{receiver}", receiver.url))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "FRESHNESS_DAEMON_INTERVAL_SECONDS": "5",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    key = AssetKey("finance_reconciliation_report")
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # this process writes to the daemon's instance
    log_path = tmp_path / "daemon.log"
    process = None
    try:
        with DagsterInstance.get() as instance:
            instance.report_runless_asset_event(AssetMaterialization(asset_key=key))
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(daemon), "run", "-f", str(module)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
                start_new_session=True,  # its own process group: its code server goes down with it
            )

            def fired():
                return [b for p, b in receiver.requests if p == "/hooks/e2e" and "[FIRING]" in b["text"]]

            _wait(fired, 180, "the freshness alert", process, log_path)
            alerts = [a for p, b in receiver.requests if p == "/api/v2/alerts" for a in b]
            assert len(alerts) == 1 and "endsAt" not in alerts[0]
            assert alerts[0]["labels"]["alertname"] == "FinanceReconFreshnessSLABreached"
            assert alerts[0]["labels"]["asset"] == "finance_reconciliation_report"

            with DagsterInstance.get() as instance:
                instance.report_runless_asset_event(AssetMaterialization(asset_key=key))

            def resolved():
                return [b for p, b in receiver.requests if p == "/hooks/e2e" and "[RESOLVED]" in b["text"]]

            _wait(resolved, 120, "the resolve", process, log_path)
            # One more sensor interval in which nothing else may arrive. The fail window is one
            # minute, so a resolve seen late (a loaded machine) would leave too little of it: keep
            # the asset fresh meanwhile (a materialization of a healthy asset sends nothing either).
            for _ in range(3):
                time.sleep(12)
                with DagsterInstance.get() as instance:
                    instance.report_runless_asset_event(AssetMaterialization(asset_key=key))
            hooks = [b["text"] for p, b in receiver.requests if p == "/hooks/e2e"]
            assert len(hooks) == 2 and "[FIRING]" in hooks[0] and "[RESOLVED]" in hooks[1]
            alerts = [a for p, b in receiver.requests if p == "/api/v2/alerts" for a in b]
            assert ["endsAt" in a for a in alerts] == [False, True]
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the group led by the PID we started
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
