"""The Dagster code location: gathers the assets, checks, jobs, schedules and sensors and wires resources.

Only entry points (the CLI, workspace.yaml) import this module.
"""

from dagster import Definitions

from finance_recon.jobs import reconciliation_job
from finance_recon.reconciliation.assets import reconciliation_dbt_models
from finance_recon.report.assets import finance_reconciliation_report
from finance_recon.resources import build_resources
from finance_recon.settings import load_settings
from finance_recon.sources.assets import orders, payments

defs = Definitions(
    assets=[orders, payments, reconciliation_dbt_models, finance_reconciliation_report],
    jobs=[reconciliation_job],
    resources=build_resources(load_settings()),
)
