"""How the quality and alerting pieces are wired into the code location (one import of
`finance_recon.definitions`): freshness on exactly the SLA assets, blocking contract checks,
non-blocking lag checks, the schedule, the sensors, and the run queue's limit of one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import AssetCheckKey, AssetKey, DefaultScheduleStatus, DefaultSensorStatus

SLA_KEYS = {AssetKey("orders"), AssetKey("payments"), AssetKey("finance_reconciliation_report")}


@pytest.fixture(scope="module")
def defs():
    from finance_recon.definitions import defs

    return defs


def test_one_freshness_policy_on_the_sla_assets(defs):
    graph = defs.resolve_asset_graph()
    with_policy = {node.key: node.freshness_policy for node in graph.asset_nodes if node.freshness_policy}
    assert set(with_policy) == SLA_KEYS
    for policy in with_policy.values():
        assert policy.fail_window.to_timedelta() == timedelta(minutes=30)
        assert policy.warn_window.to_timedelta() == timedelta(minutes=20)


def test_contract_checks_block_and_lag_checks_do_not(defs):
    graph = defs.resolve_asset_graph()
    specs = {key: graph.get_check_spec(key) for key in graph.asset_check_keys}
    for batch in ("orders_batch", "payments_batch"):  # the checks sit on the batch a run read
        assert specs[AssetCheckKey(AssetKey(batch), "contract")].blocking
        assert not specs[AssetCheckKey(AssetKey(batch), "source_lag")].blocking
    assert specs[AssetCheckKey(AssetKey("rpt_reconciliation_summary"), "report_consistency")].blocking


def test_schedule_runs_the_job_every_10_minutes_by_default(defs):
    from datetime import UTC, datetime

    from dagster import build_schedule_context

    [schedule] = defs.schedules
    assert schedule.cron_schedule == "*/10 * * * *"
    assert schedule.job_name == "finance_reconciliation"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    tick = datetime(2026, 11, 28, 18, 10, tzinfo=UTC)
    [request] = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=tick)).run_requests
    assert request.run_key == "2026-11-28T18:10Z"  # a re-evaluated tick never launches twice
    assert request.run_config["ops"]["reconciliation_dbt_models"]["config"]["tolerance"] == "0.00"


def test_a_tick_while_a_run_holds_the_lock_is_skipped_naming_it(tmp_path, monkeypatch):
    """A UI or CLI run is not in the run queue; it holds the run lock, and the tick skips rather than
    launch a run the lock would fail at once (and the run-failure sensor would page for)."""
    from datetime import UTC, datetime

    from dagster import build_schedule_context

    from finance_recon.runs.lock import RunLock
    from finance_recon.schedules import build_reconciliation_schedule
    from finance_recon.settings import load_settings

    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path))
    schedule = build_reconciliation_schedule(load_settings())
    context = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 28, 18, 20, tzinfo=UTC))
    with RunLock(tmp_path).acquire("run-from-the-ui"):
        held = schedule.evaluate_tick(context)
    assert not held.run_requests
    assert "run run-from-the-ui" in held.skip_message
    assert [r.run_key for r in schedule.evaluate_tick(context).run_requests] == ["2026-11-28T18:20Z"]


def test_sensors_are_running_by_default(defs):
    names = {s.name: s for s in defs.sensors}
    assert set(names) == {
        "asset_check_alert_sensor",
        "freshness_alert_sensor",
        "run_failure_alert_sensor",
        "finance_report_ready_sensor",
        "dead_run_sensor",
    }
    for sensor in names.values():
        assert sensor.default_status == DefaultSensorStatus.RUNNING
        assert sensor.minimum_interval_seconds == 30


def test_run_queue_limits_the_reconciliation_to_one_run(tmp_path, monkeypatch, defs):
    """deploy/dagster/dagster.yaml's tag limit applies to the job's runs (daemon-launched runs,
    including the schedule's, go through this queue)."""
    from dagster import DagsterInstance, DagsterRun
    from dagster._utils.tags import TagConcurrencyLimitsCounter

    from finance_recon.settings import PROJECT_ROOT

    (tmp_path / "dagster.yaml").write_text((PROJECT_ROOT / "deploy" / "dagster" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with DagsterInstance.get() as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    job = defs.resolve_job_def("finance_reconciliation")
    running = DagsterRun(job_name=job.name, run_id="a" * 36, tags=dict(job.tags))
    queued = DagsterRun(job_name=job.name, run_id="b" * 36, tags=dict(job.tags))
    other = DagsterRun(job_name="something_else", run_id="c" * 36, tags={})
    counter = TagConcurrencyLimitsCounter(limits, [running])
    assert counter.is_blocked(queued)
    assert not counter.is_blocked(other)
    assert not TagConcurrencyLimitsCounter(limits, []).is_blocked(queued)


def test_loading_the_definitions_does_not_import_great_expectations():
    """GX costs seconds and ~300 MB at import: only a running check may import it."""
    import subprocess
    import sys

    code = "import sys, finance_recon.definitions; print('great_expectations' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"
