"""The reconciliation job (the rolling asset graph, one run at a time) and its run config. The daily
close's job (one partition per business day) is built beside its asset, in report/close_asset.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dagster import AssetSelection, define_asset_job

from finance_recon.names import DBT_ASSETS_NAME, PIPELINE_TAGS, RECONCILIATION_JOB_NAME, SOURCE_BATCHES_NAME
from finance_recon.runs.exclusive import locked_executor

# Scheduled and UI-launched runs execute every step in the run worker's process, as the CLI does.
# Dagster's default, the multiprocess executor, starts a fresh interpreter per step, and each one
# imports Dagster, dbt, Great Expectations and these definitions again: ~20 s per step on two cores,
# nine steps, 4 min 17 s for a run the CLI finishes in ~50 s. Parallel steps buy little here: the
# graph is a chain (read → checks → land → dbt → report) and the steps share one DuckDB file, which has a
# single writer. The one place two things can overlap, the reads of the sources, overlaps inside one
# step instead (`source_batches`, sources/concurrent.py). The in-process executor still honours the
# extraction's RetryPolicy; what it gives up is isolation of a crashing step, which would fail the run
# anyway.
# Dagster's default executor with the other default (the run config keeps both modes:
# `execution: {config: {in_process: {}}}` or `{multiprocess: {...}}`), holding the run lock for the
# whole run (finance_recon/runs/exclusive.py): schedule, UI and asset-job runs alike, since
# `definitions.py` makes it the default executor of every job.
# `RECONCILIATION_EXECUTOR(settings.home)`: definitions.py gives each deployment its own lock folder.
RECONCILIATION_EXECUTOR = locked_executor

# Every executable asset. The daily close is an external asset (report/close_asset.py): no asset job
# executes it, so `AssetSelection.all()` leaves it out, as the UI's "Materialize all" does.
reconciliation_job = define_asset_job(
    RECONCILIATION_JOB_NAME,
    selection=AssetSelection.all(),
    description="Read orders and payments, check each batch, land the checked batches, reconcile in dbt, "
    "publish the report.",
    tags=PIPELINE_TAGS,
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
            # One step reads every source table (sources/assets.py): one full_refresh for all.
            SOURCE_BATCHES_NAME: {"config": {"full_refresh": full_refresh}},
            # Resolved once, by the dbt step; the report publishes what the marts were built with.
            DBT_ASSETS_NAME: {"config": {**recon, "full_refresh": full_refresh}},
        }
    }
    if log_level:
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    return config
