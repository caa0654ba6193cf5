"""Dead runs on a real (ephemeral) Dagster instance: marked failed with "process died", their
leftover children stopped; a live run is left alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from finance_recon.names import PIPELINE_TAG, RECONCILIATION_JOB_NAME
from finance_recon.runs.liveness import (
    RUN_ID_MARKER,
    TAG_HOST,
    TAG_PID,
    TAG_PID_START,
    dead_cause,
    reap_dead_runs,
    stop_orphans,
)
from finance_recon.runs.lock import process_start_ticks


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as inst:
        yield inst


def _add_run(instance, run_id: str, tags: dict[str, str], status=DagsterRunStatus.STARTED) -> DagsterRun:
    run = DagsterRun(
        job_name=RECONCILIATION_JOB_NAME,
        run_id=run_id,
        status=status,
        tags={PIPELINE_TAG: "reconciliation", **tags},
    )
    instance.add_run(run)
    return run


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_whose_process_is_gone_is_marked_failed(instance):
    pid = _dead_pid()
    _add_run(instance, "dead-run", {TAG_PID: str(pid), TAG_HOST: socket.gethostname(), TAG_PID_START: "1"})
    me = os.getpid()
    _add_run(
        instance,
        "live-run",
        {TAG_PID: str(me), TAG_HOST: socket.gethostname(), TAG_PID_START: str(process_start_ticks(me))},
    )
    reaped = reap_dead_runs(instance, lock_held=False)
    assert [run_id for run_id, _ in reaped] == ["dead-run"]
    assert instance.get_run_by_id("dead-run").status == DagsterRunStatus.FAILURE
    assert instance.get_run_by_id("live-run").status == DagsterRunStatus.STARTED
    [failure] = instance.all_logs("dead-run", of_type={__import__("dagster").DagsterEventType.RUN_FAILURE})
    assert failure.message.startswith(f"process died (pid {pid} on host {socket.gethostname()} is gone)")


def test_with_the_lock_held_a_holder_on_another_host_is_dead(instance):
    run = _add_run(instance, "lost-lock", {TAG_PID: "4242", TAG_HOST: "another-host.invalid"})
    assert dead_cause(run, lock_held=False) is None  # cannot tell from here
    assert dead_cause(run, lock_held=True) == (
        "process died (pid 4242 on host another-host.invalid no longer holds the run lock)"
    )


def test_a_live_process_is_never_judged_dead(instance):
    """Even with the lock free: a daemon run releases it just before its last event."""
    me = os.getpid()
    run = _add_run(
        instance,
        "finishing",
        {TAG_PID: str(me), TAG_HOST: socket.gethostname(), TAG_PID_START: str(process_start_ticks(me))},
    )
    assert dead_cause(run, lock_held=True) is None


def test_a_reused_pid_is_not_mistaken_for_the_run(instance):
    me = os.getpid()
    run = _add_run(
        instance,
        "reused",
        {TAG_PID: str(me), TAG_HOST: socket.gethostname(), TAG_PID_START: str(process_start_ticks(me) - 1)},
    )
    assert dead_cause(run, lock_held=False).startswith("process died")


def test_a_run_that_never_took_the_lock_gets_a_grace_period(instance):
    run = _add_run(instance, "booting", {})
    now = time.time()
    assert dead_cause(run, lock_held=True, now=now, update_ts=now - 5) is None
    assert "never took the run lock" in dead_cause(run, lock_held=True, now=now, update_ts=now - 600)


def test_leftover_children_of_a_dead_run_are_stopped():
    env = {**os.environ, RUN_ID_MARKER: "orphaned-run"}
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        assert stop_orphans("orphaned-run") == [child.pid]
        assert child.wait(timeout=5) == -9
        assert bystander.poll() is None
    finally:
        for proc in (child, bystander):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_the_daemon_sensor_marks_a_dead_run_failed(instance):
    from dagster import build_sensor_context

    from finance_recon.alerting.sensors import build_dead_run_sensor

    pid = _dead_pid()
    _add_run(instance, "dead-for-sensor", {TAG_PID: str(pid), TAG_HOST: socket.gethostname()})
    sensor = build_dead_run_sensor()
    first = sensor.evaluate_tick(build_sensor_context(instance=instance))
    assert first.skip_message.startswith("marked failed: run dead-for-sensor: process died (pid ")
    assert instance.get_run_by_id("dead-for-sensor").status == DagsterRunStatus.FAILURE
    again = sensor.evaluate_tick(build_sensor_context(instance=instance))
    assert again.skip_message == "no dead reconciliation run"
