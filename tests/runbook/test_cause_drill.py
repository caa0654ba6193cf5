"""`finance-recon drill --cause C` end to end: the fault is really injected, the real job runs against
it, `diagnose` names the cause first, the fault is removed, the job runs again and recovers.

One private deployment (embedded demo sources, 200 orders, local report store) shared by the module:
the first drill (store full, through the CLI) starts from no report, so it runs the preflight job;
the second (schema drift, in-process) starts from the fresh report the first one left. ~2.5 min.
"""

from __future__ import annotations

import json

import pytest

from finance_recon.cli.pipeline import run_once
from finance_recon.runbook import causes as C
from finance_recon.runbook.cause_drill import DRILL_CAUSES, CauseDrillError, inject, run_cause_drill
from finance_recon.settings import load_settings
from tests.runbook.conftest import apply_env
from tests.runbook.helpers import cli, home_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cause-drill") / "home"
    env = home_env(home)
    seed = cli(["seed", "--orders", "200", "--seed", "5", "--no-progress"], env, timeout=300)
    assert seed.returncode == 0, seed.stderr[-2000:]
    return env


def test_store_full_drill_through_the_cli(demo_home):
    proc = cli(["drill", "--cause", "storage_full", "--poll-seconds", "1", "--json"], demo_home, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["ok"] and result["cause"] == C.STORAGE_FULL
    assert result["named"][0] == C.STORAGE_FULL
    assert result["next_command"].startswith("df -h")
    steps = [e["step"] for e in result["timeline"]]
    for step in (
        "preflight",
        "inject",
        "provoke",
        "detected",
        "next",
        "remove",
        "restart",
        "recovered",
        "done",
    ):
        assert step in steps, steps
    provoke = next(e for e in result["timeline"] if e["step"] == "provoke")
    assert (
        "FAILURE" in provoke["detail"] and "InsufficientStorage" in provoke["detail"]
    )  # the job really failed
    assert 0 < result["time_to_detect_s"] < 300 and 0 < result["time_to_recover_s"] < 300
    offsets = [e["offset_s"] for e in result["timeline"]]
    assert offsets == sorted(offsets)
    # The real store was never touched by the fault: the recovery run published to it.
    assert "+0:" in proc.stderr and "detected" in proc.stderr  # the timeline streamed to stderr


def test_schema_drift_drill_in_process(demo_home, monkeypatch):
    apply_env(monkeypatch, demo_home)
    settings = load_settings()
    original_payments = settings.payments_url
    lines: list[str] = []
    result = run_cause_drill(settings, C.SCHEMA_DRIFT, run_job=run_once, echo=lines.append, poll_seconds=1)
    print(result.render())
    assert result.ok, result.error
    assert result.named[0] == C.SCHEMA_DRIFT and C.JOB_FAILURE in result.named[1:]
    assert "currency" in next(d for _, s, d in result.events if s == "detected")
    assert result.time_to_detect_s is not None and result.time_to_recover_s is not None
    assert "time-to-detect" in result.render() and "drill PASSED" in result.render()
    assert not any(
        s == "preflight" and "running the job" in d for _, s, d in result.events
    )  # report was fresh
    # The environment is the deployment's own again, and its source still has the column.
    assert load_settings().payments_url == original_payments
    import duckdb

    with duckdb.connect(original_payments.removeprefix("duckdb:///"), read_only=True) as conn:
        columns = {r[0] for r in conn.execute("DESCRIBE payments").fetchall()}
    assert "currency" in columns


def test_source_faults_refuse_server_sources_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path))
    monkeypatch.setenv("FINANCE_RECON_ORDERS_URL", "mysql+pymysql://u:secret@127.0.0.1:3306/shop")
    settings = load_settings()
    with (
        pytest.raises(CauseDrillError, match="FINANCE_RECON_ORDERS_URL points at a server") as info,
        inject(C.SOURCE_LAG, settings, tmp_path),
    ):
        pass
    assert "secret" not in str(info.value)


def test_the_cli_offers_exactly_the_drill_causes():
    proc = cli(["drill", "--help"], home_env_for_help(), timeout=60)
    assert proc.returncode == 0
    for cause in DRILL_CAUSES:
        assert cause in proc.stdout


def home_env_for_help():
    from tests.runbook.helpers import base_env

    return base_env()
