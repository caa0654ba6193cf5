"""The reconciliation job: the whole asset graph, one run at a time."""

from dagster import AssetSelection, define_asset_job

PIPELINE_TAG = "finance_recon/pipeline"
RECONCILIATION_JOB_NAME = "finance_reconciliation"

reconciliation_job = define_asset_job(
    RECONCILIATION_JOB_NAME,
    selection=AssetSelection.all(),
    description="Extract orders and payments, check them, reconcile in dbt, publish the report.",
    tags={PIPELINE_TAG: "reconciliation"},
)
