"""Drills end to end: real job, real exporter, real Prometheus, real Dagster daemon, real timeline.

- compressed (SLA 1 minute, CI): embedded demo sources with a small shop, a private
  FINANCE_RECON_HOME, the exporter (`finance-recon metrics serve`) and Prometheus (the shipped
  `FinanceReconciliationLagHigh` rule compressed to 1 minute / `for: 3s`) on free ports, then
  `finance-recon drill --sla-minutes 1` watching both: preflight run, hold, breach seen by the exporter
  and the alert, rerun, recovery.
- with the daemon (SLA 2 minutes): the same against `dagster dev`, the schedule stopped and restarted
  through GraphQL and the breach also seen by the FreshnessDaemon.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.runbook.helpers import BIN, PROJECT_ROOT, cli, free_port, home_env, wait_until

pytestmark = pytest.mark.slow

RULES = (
    Path(__file__).resolve().parents[2]
    / "deploy"
    / "prometheus"
    / "rules"
    / "finance_reconciliation.rules.yml"
)


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _compressed_rules() -> dict:
    """The shipped FinanceReconciliationLagHigh rule with the SLA compressed to 1 minute, `for:` to 3 s."""
    doc = yaml.safe_load(RULES.read_text())
    rule = next(
        r for g in doc["groups"] for r in g["rules"] if r.get("alert") == "FinanceReconciliationLagHigh"
    )
    assert rule["expr"] == "finance_reconciliation_age_minutes > 30"  # what we compress is the shipped rule
    rule = {**rule, "expr": "finance_reconciliation_age_minutes > 1", "for": "3s"}
    return {"groups": [{"name": "drill", "interval": "1s", "rules": [rule]}]}


def _start(cmd: list[str], env: dict[str, str], log_path) -> subprocess.Popen:
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _ready(proc: subprocess.Popen, url: str, log_path) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"{url}: process exited: {log_path.read_text()[-2000:]}")
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_compressed_drill_detects_and_recovers(tmp_path):
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        message = "prometheus is not installed (make system-deps)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI=true: a missing service fails the test")
        pytest.skip(message)
    env = home_env(tmp_path / "home")
    seed = cli(["seed", "--orders", "200", "--seed", "5", "--no-progress"], env, timeout=300)
    assert seed.returncode == 0, seed.stderr[-2000:]

    port, prom_port = free_port(), free_port()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    prometheus_url = f"http://127.0.0.1:{prom_port}"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(_compressed_rules()))
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(tmp_path / "rules.yml")],
                "scrape_configs": [
                    {"job_name": "finance_recon", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                ],
            }
        )
    )
    processes: list[subprocess.Popen] = []
    try:
        exporter = _start(
            [str(BIN / "finance-recon"), "metrics", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env,
            tmp_path / "exporter.log",
        )
        processes.append(exporter)
        prometheus = _start(
            [
                prometheus_bin,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            env,
            tmp_path / "prometheus.log",
        )
        processes.append(prometheus)
        wait_until(lambda: _ready(exporter, metrics_url, tmp_path / "exporter.log"), 120, 0.5, "the exporter")
        wait_until(
            lambda: _ready(prometheus, f"{prometheus_url}/-/ready", tmp_path / "prometheus.log"),
            60,
            0.5,
            "prometheus",
        )
        started = time.monotonic()
        drill = cli(
            [
                "drill",
                "--sla-minutes",
                "1",
                "--metrics-url",
                metrics_url,
                "--prometheus-url",
                prometheus_url,
                "--poll-seconds",
                "1",
                "--detect-timeout",
                "120",
                "--recover-timeout",
                "120",
                "--json",
            ],
            env,
            timeout=1200,
            log=tmp_path / "drill.log",
        )
        elapsed = time.monotonic() - started
    finally:
        for proc in processes:
            _stop(proc)

    print(drill.stderr[-5000:])
    assert drill.returncode == 0, drill.stdout[-3000:] + drill.stderr[-3000:]
    result = json.loads(drill.stdout)
    assert result["ok"] is True and result["detectors"] == ["exporter", "prometheus"], result["detectors"]
    steps = [e["step"] for e in result["timeline"]]
    for step in ("start", "preflight", "hold", "baseline", "detected", "restart", "run", "recovered", "done"):
        assert step in steps, steps
    assert steps.index("hold") < steps.index("detected") < steps.index("restart") < steps.index("recovered")
    # The exporter computes the age at scrape time: polled every second, the breach shows within seconds;
    # the alert adds its `for:` (3 s) and Prometheus' scrape and evaluation intervals (1 s each).
    assert 0 <= result["time_to_detect_s"]["exporter"] < 30, result["time_to_detect_s"]
    assert 3 <= result["time_to_detect_s"]["prometheus"] < 60, result["time_to_detect_s"]
    assert set(result["time_to_recover_s"]) == {"exporter", "prometheus"}
    print(
        f"drill took {elapsed:.0f}s: detect {result['time_to_detect_s']}, recover {result['time_to_recover_s']}"
    )


def test_drill_with_daemon_detects_through_the_freshness_policy(tmp_path):
    """The full §4 drill against `dagster dev`: the schedule is stopped through GraphQL, the breach is
    detected by the FreshnessDaemon (policy FAIL in the instance) and by the exporter's age, the rerun
    clears both, and the schedule is running again at the end.

    The freshness policy is compiled into the code location from FINANCE_RECON_SLA_MINUTES /
    FINANCE_RECON_WARN_MINUTES (warn must stay below the SLA, in whole minutes): 2 / 1 here.
    """
    from tests.runbook.helpers import dagster_dev, graphql

    env = home_env(
        tmp_path / "home",
        FINANCE_RECON_SLA_MINUTES="2",
        FINANCE_RECON_WARN_MINUTES="1",
        FRESHNESS_DAEMON_INTERVAL_SECONDS="10",
    )
    seed = cli(["seed", "--orders", "200", "--seed", "9", "--no-progress"], env, timeout=300)
    assert seed.returncode == 0, seed.stderr[-2000:]
    (tmp_path / "home" / "dagster").mkdir(parents=True, exist_ok=True)
    (tmp_path / "home" / "dagster" / "dagster.yaml").write_text(
        (PROJECT_ROOT / "deploy" / "dagster" / "dagster.yaml").read_text()
    )
    with dagster_dev(
        env,
        tmp_path / "dagster-dev.log",
        float(os.environ.get("FINANCE_RECON_TEST_DAGSTER_STARTUP_S", "420")),
    ) as url:
        drill = cli(
            [
                "drill",
                "--sla-minutes",
                "2",
                "--dagster-url",
                url,
                "--poll-seconds",
                "2",
                "--detect-timeout",
                "240",
                "--recover-timeout",
                "300",
                "--json",
            ],
            env,
            timeout=1800,
            log=tmp_path / "drill.log",
        )
        state = graphql(
            f"{url}/graphql",
            "query($s: ScheduleSelector!) { scheduleOrError(scheduleSelector: $s) { ... on Schedule { scheduleState { status } } } }",
            s={
                "repositoryLocationName": "finance_recon",
                "repositoryName": "__repository__",
                "scheduleName": "finance_reconciliation_every_10_minutes",
            },
        )
    print(drill.stderr[-5000:])
    assert drill.returncode == 0, drill.stdout[-3000:] + drill.stderr[-3000:]
    result = json.loads(drill.stdout)
    assert set(result["detectors"]) == {"exporter", "freshness"}, result["detectors"]
    assert set(result["time_to_detect_s"]) == {"exporter", "freshness"}
    assert set(result["time_to_recover_s"]) == {"exporter", "freshness"}
    hold = next(e for e in result["timeline"] if e["step"] == "hold")
    assert "stopped via" in hold["detail"], hold
    assert state["scheduleOrError"]["scheduleState"]["status"] == "RUNNING"
