"""SIGTERM to a running `finance-recon run` while its `dbt build` runs, on the real CLI: the run is
interrupted as Dagster interrupts an execution (dagster-dbt sends SIGINT to dbt and waits for it),
the run is recorded FAILURE, the CLI says so in one line, no dbt is left behind and the next run
publishes. (The CLI relies on `execute_in_process` for this; it installs no signal handling of its
own, issue 26.)"""

from __future__ import annotations

import os
import signal

from dagster import DagsterEventType, DagsterRunStatus

from tests.faults.conftest import Home, latest_is_valid, one_line_failure, wait_for
from tests.faults.test_crash_and_race import _alive, _children, _started_run


def test_sigterm_during_the_dbt_build_interrupts_the_run_and_its_dbt(home: Home):
    home.create_instance()  # this test polls the instance while the run starts
    proc = home.start()
    dbt = wait_for(
        lambda: next((p for p, cmd in _children(proc.pid) if "dbt" in cmd and "build" in cmd), None),
        150,
        "the run's dbt build",
        interval=0.02,
    )
    run_id = _started_run(home, proc.pid)
    assert run_id is not None
    os.kill(proc.pid, signal.SIGTERM)
    _out, err = proc.communicate(timeout=180)

    assert proc.returncode == 1, err[-3000:]
    line = one_line_failure(err)
    # As before issue 26 (measured on both): the dbt step failed with Dagster's execution interrupt.
    assert "step reconciliation_dbt_models failed: " in line and "DagsterExecutionInterruptedError" in line, (
        line
    )
    assert not _alive(dbt), "dbt outlived the interrupted run"
    instance = home.instance()
    try:
        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
        assert instance.all_logs(run_id, of_type={DagsterEventType.RUN_FAILURE})
    finally:
        instance.dispose()

    rerun = home.run()  # the lock was released, nothing to reap: the next run publishes
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    latest_is_valid(home.reports)
