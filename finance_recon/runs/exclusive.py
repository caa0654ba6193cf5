"""One reconciliation at a time: take the run lock, clear dead runs, then run.

- The CLI (`cli/pipeline.py`) wraps its in-process run in `exclusive_cli_run`.
- Runs launched by the daemon (schedule) or the UI execute through `locked_executor(home)`, the
  deployment's executor: Dagster's default executor whose orchestration holds the run lock of that
  home for the whole run (the run worker process holds it; the kernel releases it if that process
  dies).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    DagsterInstance,
    Executor,
    ExecutorDefinition,
    ExecutorRequirement,
    Field,
    multi_or_in_process_executor,
    multiple_process_executor_requirements,
)

from finance_recon.names import PIPELINE_TAGS
from finance_recon.runs.errors import RunLockHeldError
from finance_recon.runs.liveness import dead_cause, holder_tags, mark_process, reap_dead_runs
from finance_recon.runs.lock import RunLock

WAITING_STATUSES = ("QUEUED", "STARTING", "STARTED")


def new_run_id() -> str:
    return str(uuid.uuid4())


def _busy(instance, exclude: str) -> str | None:
    """A live reconciliation that has not taken the lock yet (queued, or its worker booting)."""
    from dagster import DagsterRunStatus, RunsFilter

    records = instance.get_run_records(
        filters=RunsFilter(statuses=[DagsterRunStatus(s) for s in WAITING_STATUSES], tags=PIPELINE_TAGS),
        limit=5,
    )
    now = time.time()
    for record in records:
        run = record.dagster_run
        if run.run_id == exclude or dead_cause(
            run, lock_held=True, now=now, update_ts=record.update_timestamp.timestamp()
        ):
            continue
        created = datetime.fromtimestamp(record.create_timestamp.timestamp(), UTC).isoformat(
            timespec="seconds"
        )
        return (
            f"another reconciliation is running: run {run.run_id} ({run.status.value}, created at {created})"
        )
    return None


@contextmanager
def exclusive_cli_run(home: Path, run_id: str) -> Iterator[tuple[DagsterInstance, dict[str, str]]]:
    """Hold the run lock around one CLI run; yields the instance (opened under the lock, so that
    two first starts never initialise its storage at once) and the run tags naming the holder.

    Raises `RunLockHeldError` at once when another reconciliation runs or waits to run."""
    lock = RunLock(home).acquire(run_id)
    try:
        with DagsterInstance.get() as instance:
            reap_dead_runs(instance, lock_held=True, exclude=run_id)
            busy = _busy(instance, exclude=run_id)
            if busy:
                raise RunLockHeldError(busy)
            mark_process(run_id)
            yield instance, holder_tags(lock.holder)
    finally:
        lock.release()


class LockedExecutor(Executor):
    """Delegates to Dagster's default executor, holding the run lock while it orchestrates."""

    def __init__(self, inner: Executor, home: Path):
        self._inner = inner
        self._home = home

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan):
        run_id = plan_context.run_id
        lock = RunLock(self._home).acquire(
            run_id
        )  # RunLockHeldError fails the run at once, naming the holder
        try:
            instance = plan_context.instance
            instance.add_run_tags(run_id, holder_tags(lock.holder))
            reap_dead_runs(instance, lock_held=True, exclude=run_id)
            mark_process(run_id)
            yield from self._inner.execute(plan_context, execution_plan)
        finally:
            lock.release()


def _requirements(executor_config) -> list[ExecutorRequirement]:
    """What Dagster's default executor requires of a run, by its config: a reconstructable job, a
    persistent instance and persistent outputs with `multiprocess`, nothing in-process
    (tests/runs/test_locked_executor.py compares it with the default executor's)."""
    return list(multiple_process_executor_requirements()) if "multiprocess" in executor_config else []


def locked_executor(home: Path) -> ExecutorDefinition:
    """The executor of a deployment's reconciliation runs, holding the run lock of `home` (its
    `FINANCE_RECON_HOME`, the folder `exclusive_cli_run` locks too)."""

    def create(init_context) -> Executor:
        return LockedExecutor(multi_or_in_process_executor.executor_creation_fn(init_context), Path(home))

    return ExecutorDefinition(
        name="finance_recon_locked_executor",
        # Dagster's default executor's config, with in-process as the default (finance_recon/jobs.py says why).
        config_schema=Field(
            multi_or_in_process_executor.config_schema.as_field().config_type,
            default_value={"in_process": {}},
        ),
        requirements=_requirements,
        executor_creation_fn=create,
        description="Every step in the run worker's process (unless the run config asks for multiprocess), holding the finance_recon run lock for the whole run.",
    )
