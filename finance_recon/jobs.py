"""The reconciliation job (the whole asset graph, one run at a time) and its run config."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dagster import AssetSelection, define_asset_job

from finance_recon.runs.exclusive import locked_executor

PIPELINE_TAG = "finance_recon/pipeline"
RECONCILIATION_JOB_NAME = "finance_reconciliation"

reconciliation_job = define_asset_job(
    RECONCILIATION_JOB_NAME,
    selection=AssetSelection.all(),
    description="Extract orders and payments, check them, reconcile in dbt, publish the report.",
    tags={PIPELINE_TAG: "reconciliation"},
    # Daemon and UI runs hold the run lock for their whole run (the CLI takes it itself).
    executor_def=locked_executor,
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
    from finance_recon.reconciliation.assets import DBT_ASSETS_NAME
    from finance_recon.report.assets import REPORT_KEY

    recon: dict[str, Any] = {"tolerance": str(tolerance), "grace_minutes": grace_minutes}
    if as_of:
        recon["as_of"] = as_of
    config: dict[str, Any] = {
        "ops": {
            "orders": {"config": {"full_refresh": full_refresh}},
            "payments": {"config": {"full_refresh": full_refresh}},
            DBT_ASSETS_NAME: {"config": {**recon, "full_refresh": full_refresh}},
            REPORT_KEY.to_python_identifier(): {"config": recon},
        }
    }
    if log_level:
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    return config
