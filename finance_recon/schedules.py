"""The schedule that keeps the report inside its freshness SLA whenever the daemon runs.

Every 10 minutes (a third of the 30-minute SLA: one failed or skipped run still leaves time for the
next one), `default_status=RUNNING` so a fresh deployment holds the SLA without a click in the UI.
Runs carry the job's tag `finance_recon/pipeline=reconciliation`, which the run queue
(`deploy/dagster/dagster.yaml`, `tag_concurrency_limits`) limits to one at a time: a tick that
comes while a run is still going waits in the queue instead of racing it. A run the queue does not
see (launched from the UI's "Materialize", or by the CLI) holds the run lock: a tick that comes
while it does is skipped, naming the holder in the tick's history, rather than launching a run the
lock would fail at once (and the run-failure sensor would page for).
"""

from __future__ import annotations

from datetime import UTC

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from finance_recon.jobs import reconciliation_job, reconciliation_run_config
from finance_recon.names import RECONCILIATION_JOB_NAME, SCHEDULE_NAME
from finance_recon.runs.lock import RunLock

CRON = "*/10 * * * *"


def build_reconciliation_schedule(settings):
    """The schedule, with tolerance and grace from `Settings` (as the CLI passes them)."""

    @schedule(
        name=SCHEDULE_NAME,
        job=reconciliation_job,
        cron_schedule=CRON,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Run {RECONCILIATION_JOB_NAME} every 10 minutes to hold the {settings.sla_minutes}-minute SLA.",
    )
    def _every_10_minutes(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        tick = context.scheduled_execution_time
        running = RunLock(settings.home).busy()
        if running:
            return SkipReason(f"a reconciliation is running ({running}); the next tick runs after it")
        return RunRequest(
            # One run per tick: a re-evaluated tick never launches twice.
            run_key=tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
            run_config=reconciliation_run_config(
                tolerance=settings.tolerance, grace_minutes=settings.grace_minutes
            ),
        )

    return _every_10_minutes
