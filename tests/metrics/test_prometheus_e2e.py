"""End to end on loopback: exporter -> real Prometheus (compressed SLA rule) -> real Alertmanager -> webhook.

With a stale report the real `FinanceReconciliationLagHigh` rule (threshold compressed from 30 minutes
to 1, `for:` from 5m to 3s) fires and reaches Alertmanager (`GET /api/v2/alerts`) and its webhook;
then a run publishes a fresh manifest and the alert clears (resolved notification, gone from the API).
Everything binds 127.0.0.1; every process is stopped by PID in `finally`; the whole test is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from finance_recon.report.store import LocalReportStore
from tests.metrics.metrics_helpers import publish_report, require_binary
from tests.services import free_port  # noqa: F401 (shared helpers)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REAL_RULES = PROJECT_ROOT / "deploy" / "prometheus" / "rules" / "finance_reconciliation.rules.yml"
ALERT = "FinanceReconciliationLagHigh"
TEST_BUDGET_SECONDS = 110  # the whole test, start-up included, must stay under 2 minutes
STEP_TIMEOUT_SECONDS = 45

pytestmark = pytest.mark.slow


class Webhook:
    """A tiny Alertmanager webhook receiver on 127.0.0.1 recording each notification."""

    def __init__(self) -> None:
        self.notifications: list[dict] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def statuses(self, alertname: str) -> list[str]:
        return [
            n["status"] for n in self.notifications if n.get("commonLabels", {}).get("alertname") == alertname
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def compressed_rules() -> dict:
    """The real LagHigh rule with the SLA compressed to 1 minute and `for:` to 3 seconds."""
    doc = yaml.safe_load(REAL_RULES.read_text())
    rule = next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == ALERT)
    assert rule["expr"] == "finance_reconciliation_age_minutes > 30"  # what we compress must be the contract
    rule = {**rule, "expr": "finance_reconciliation_age_minutes > 1", "for": "3s"}
    return {"groups": [{"name": "finance_reconciliation_e2e", "interval": "1s", "rules": [rule]}]}


def wait_until(predicate, what: str, timeout: float, deadline: float):
    end = min(time.monotonic() + timeout, deadline)
    last = None
    while time.monotonic() < end:
        try:
            last = predicate()
        except requests.RequestException as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def start(cmd: list[str], log: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
    )


def active_alerts(am_url: str) -> list[dict]:
    response = requests.get(f"{am_url}/api/v2/alerts", params={"active": "true"}, timeout=5)
    response.raise_for_status()
    return [a for a in response.json() if a["labels"].get("alertname") == ALERT]


def test_stale_report_fires_lag_alert_into_alertmanager_and_a_run_clears_it(tmp_path: Path):
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager")
    deadline = time.monotonic() + TEST_BUDGET_SECONDS
    t0 = time.monotonic()
    timeline: list[tuple[float, str]] = []

    def mark(event: str) -> None:
        timeline.append((round(time.monotonic() - t0, 1), event))

    store_root = tmp_path / "finance-reports"
    store = LocalReportStore(store_root)
    publish_report(store, "run-stale", datetime.now(UTC) - timedelta(minutes=10))  # no run for 10 min

    webhook = Webhook()
    procs: dict[str, subprocess.Popen] = {}
    try:
        # 1. The exporter, exactly as deployed (`python -m finance_recon.metrics serve`).
        exporter_log = tmp_path / "exporter.log"
        procs["exporter"] = start(
            [
                sys.executable,
                "-m",
                "finance_recon.metrics",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--reports-uri",
                str(store_root),
            ],
            exporter_log,
            cwd=PROJECT_ROOT,
            env=os.environ.copy(),
        )
        line = wait_until(
            lambda: next(
                (ln for ln in exporter_log.read_text().splitlines() if "serving http://" in ln), None
            ),
            "the exporter to listen",
            60,
            deadline,
        )
        exporter_target = line.split("serving http://", 1)[1].split("/", 1)[0]

        # 2. Alertmanager, webhook receiver with compressed grouping; no clustering.
        am_port = free_port()
        am_url = f"http://127.0.0.1:{am_port}"
        am_config = {
            "route": {
                "receiver": "test",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "test", "webhook_configs": [{"url": webhook.url, "send_resolved": True}]}],
        }
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
        procs["alertmanager"] = start(
            [
                alertmanager,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            tmp_path / "alertmanager.log",
        )

        # 3. Prometheus scraping the exporter every second and evaluating the compressed rule.
        prom_port = free_port()
        prom_url = f"http://127.0.0.1:{prom_port}"
        (tmp_path / "rules.yml").write_text(yaml.safe_dump(compressed_rules()))
        prom_config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [
                {"job_name": "finance_recon", "static_configs": [{"targets": [exporter_target]}]}
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prom_config))
        procs["prometheus"] = start(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--rules.alert.resend-delay=1s",
            ],
            tmp_path / "prometheus.log",
        )
        for name, url in (("alertmanager", am_url), ("prometheus", prom_url)):
            wait_until(
                lambda url=url: requests.get(f"{url}/-/ready", timeout=2).ok, f"{name} ready", 30, deadline
            )
        mark("exporter, prometheus and alertmanager ready")

        # Stale report: the alert fires and reaches Alertmanager and its receiver.
        alerts = wait_until(
            lambda: active_alerts(am_url), f"{ALERT} in Alertmanager", STEP_TIMEOUT_SECONDS, deadline
        )
        mark(f"{ALERT} active in Alertmanager")
        alert = alerts[0]
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["job"] == "finance_recon"
        assert alert["annotations"]["runbook_url"].endswith("docs/runbooks/finance-reconciliation-delay.md")
        assert "minutes old" in alert["annotations"]["summary"]
        wait_until(lambda: "firing" in webhook.statuses(ALERT), "a firing notification", 20, deadline)
        mark("firing notification received by the webhook")

        # A run publishes: the age drops under the (compressed) SLA and the alert clears.
        publish_report(store, "run-fresh", datetime.now(UTC), previous_run_id="run-stale")
        mark("fresh manifest published")
        wait_until(
            lambda: not active_alerts(am_url) or None, f"{ALERT} to clear", STEP_TIMEOUT_SECONDS, deadline
        )
        mark(f"{ALERT} no longer active in Alertmanager")
        wait_until(lambda: "resolved" in webhook.statuses(ALERT), "a resolved notification", 20, deadline)
        mark("resolved notification received by the webhook")

        age = requests.get(
            f"{prom_url}/api/v1/query", params={"query": "finance_reconciliation_age_minutes"}, timeout=5
        )
        assert float(age.json()["data"]["result"][0]["value"][1]) < 1
        assert webhook.statuses(ALERT).count("firing") >= 1
    except BaseException:
        for log in sorted(tmp_path.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        raise
    finally:
        for proc in procs.values():
            stop(proc)
        webhook.close()
        print("timeline (s since start):", *(f"  {t:6.1f}  {e}" for t, e in timeline), sep="\n")
    assert all(proc.poll() is not None for proc in procs.values())
    assert time.monotonic() - t0 < 120
