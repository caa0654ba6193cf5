"""Runs launched outside the CLI (schedule, UI) go through the job's executor, which holds the run
lock for the whole run: executed here as the run worker executes them (`execute_job`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from dagster import DagsterEventType, execute_job, instance_for_test, job, op, reconstructable

from finance_recon.runs.exclusive import locked_executor
from finance_recon.runs.liveness import RUN_ID_MARKER, TAG_PID
from finance_recon.runs.lock import RunLock, read_holder


@op
def work(context) -> None:
    holder = read_holder(RunLock(os.environ["FINANCE_RECON_HOME"]).path)
    assert holder is not None and holder.run_id == context.run_id  # held while the steps run
    assert os.environ[RUN_ID_MARKER] == context.run_id


# The deployment's home, fixed when the job is defined (reconstructable needs a module-level job).
HOME = Path(tempfile.mkdtemp(prefix="finance_recon_locked_executor_"))


@job(executor_def=locked_executor(HOME))
def tiny_locked_job():
    work()


IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


@pytest.fixture
def home(monkeypatch):
    monkeypatch.setenv("FINANCE_RECON_HOME", str(HOME))
    monkeypatch.delenv(RUN_ID_MARKER, raising=False)
    return HOME


def test_a_daemon_style_run_holds_the_lock_and_names_itself(home):
    with (
        instance_for_test() as instance,
        execute_job(reconstructable(tiny_locked_job), instance, run_config=IN_PROCESS) as result,
    ):
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run.tags[TAG_PID] == str(os.getpid())
    with RunLock(home).acquire("after"):  # released at the end of the run
        pass


def test_a_daemon_style_run_is_refused_while_another_holds_the_lock(home):
    with (
        instance_for_test() as instance,
        RunLock(home).acquire("cli-run-holding-it"),
        execute_job(reconstructable(tiny_locked_job), instance, run_config=IN_PROCESS) as result,
    ):
        assert not result.success
        assert instance.all_logs(result.run_id, of_type={DagsterEventType.STEP_START}) == []
        [failure] = instance.all_logs(result.run_id, of_type={DagsterEventType.RUN_FAILURE})
        data = failure.dagster_event.event_specific_data
        text = data.error.to_string() if data and data.error else failure.message
        assert "another reconciliation is running: run cli-run-holding-it" in text


@pytest.mark.parametrize(
    "config", [{"in_process": {}}, {"multiprocess": {}}, {"multiprocess": {"max_concurrent": 2}}]
)
def test_the_locked_executor_requires_what_dagsters_default_executor_requires(config):
    """Multiprocess needs a reconstructable job, a persistent instance and persistent outputs;
    in-process needs none: the same answer as Dagster's default executor for the same config."""
    from dagster import multi_or_in_process_executor

    ours = locked_executor(HOME).get_requirements(config)
    assert ours == list(multi_or_in_process_executor.get_requirements(config))
    assert bool(ours) == ("multiprocess" in config)
