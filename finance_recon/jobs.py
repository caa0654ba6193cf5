"""The reconciliation job (the rolling asset graph, one run at a time), its run config, and the
daily close's job (one partition per business day, report/close_asset.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dagster import AssetSelection, define_asset_job, in_process_executor

from finance_recon.names import (
    CLOSE_GROUP,
    CLOSE_JOB_NAME,
    DBT_ASSETS_NAME,
    PIPELINE_TAGS,
    RECONCILIATION_JOB_NAME,
)
from finance_recon.runs.exclusive import locked_executor

# Scheduled and UI-launched runs execute every step in the run worker's process, as the CLI does.
# Dagster's default, the multiprocess executor, starts a fresh interpreter per step, and each one
# imports Dagster, dbt, Great Expectations and these definitions again: ~20 s per step on two cores,
# nine steps, 4 min 17 s for a run the CLI finishes in ~50 s. Parallel steps buy nothing here: the
# graph is a chain (extract → checks → dbt → report) and the steps share one DuckDB file, which has a
# single writer. The in-process executor still honours the extraction's RetryPolicy; what it gives up
# is isolation of a crashing step, which would fail the run anyway.
# Dagster's default executor with the other default (the run config keeps both modes:
# `execution: {config: {in_process: {}}}` or `{multiprocess: {...}}`), holding the run lock for the
# whole run (finance_recon/runs/exclusive.py): schedule, UI and asset-job runs alike, since
# `definitions.py` makes it the default executor of every job.
# `RECONCILIATION_EXECUTOR(settings.home)`: definitions.py gives each deployment its own lock folder.
RECONCILIATION_EXECUTOR = locked_executor

reconciliation_job = define_asset_job(
    RECONCILIATION_JOB_NAME,
    selection=AssetSelection.all() - AssetSelection.groups(CLOSE_GROUP),
    description="Extract orders and payments, check them, reconcile in dbt, publish the report.",
    tags=PIPELINE_TAGS,
)

# The close of one day per run. Not the locked executor: a close runs its reconciliation on its own
# warehouse, Dagster instance and run lock (report/close.py), so it never blocks the rolling runs the
# freshness SLA depends on, and a backfill of a month never makes them fail on a held lock.
close_job = define_asset_job(
    CLOSE_JOB_NAME,
    selection=AssetSelection.groups(CLOSE_GROUP),
    description="The daily close of one business day (a partition); backfill a range from the UI.",
    executor_def=in_process_executor,
)


def reconciliation_run_config(
    *,
    tolerance: Decimal,
    grace_minutes: int,
    as_of: str | None = None,
    full_refresh: bool = False,
    log_level: str | None = None,
) -> dict[str, Any]:
    """Run config of one reconciliation, shared by the schedule and the CLI."""
    recon: dict[str, Any] = {"tolerance": str(tolerance), "grace_minutes": grace_minutes}
    if as_of:
        recon["as_of"] = as_of
    config: dict[str, Any] = {
        "ops": {
            "orders": {"config": {"full_refresh": full_refresh}},
            "payments": {"config": {"full_refresh": full_refresh}},
            # Resolved once, by the dbt step; the report publishes what the marts were built with.
            DBT_ASSETS_NAME: {"config": {**recon, "full_refresh": full_refresh}},
        }
    }
    if log_level:
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    return config
