"""The Dagster code location: gathers the assets, checks, jobs, schedules and sensors and wires resources.

Only entry points (the CLI, workspace.yaml, tests) import this module. `build_definitions` exists so
that a process can wire a second deployment (tests, the CLI with another FINANCE_RECON_HOME).
"""

from dagster import Definitions, PipesSubprocessClient, map_asset_specs

from finance_recon.alerting.resources import build_alerting_resources
from finance_recon.alerting.sensors import build_alert_sensors
from finance_recon.jobs import RECONCILIATION_EXECUTOR, reconciliation_job
from finance_recon.names import ASSET_GROUP, FRESH_ASSET_KEYS, RECONCILIATION_JOB_NAME, REPORT_KEY
from finance_recon.probe.step import build_before_read
from finance_recon.quality.checks import build_quality_checks
from finance_recon.quality.freshness import apply_freshness, freshness_policy
from finance_recon.reconciliation.assets import build_reconciliation_dbt_models
from finance_recon.report.assets import finance_reconciliation_report
from finance_recon.report.close_asset import build_close_job, build_close_spec
from finance_recon.report.publication_check import report_publication
from finance_recon.resources import build_resources
from finance_recon.schedules import build_reconciliation_schedule
from finance_recon.settings import Settings, load_settings
from finance_recon.sources.assets import build_source_assets


def build_definitions(settings: Settings) -> Definitions:
    resources = build_resources(settings)
    # Per source table its batch and its landed table (`orders_batch` → `orders`), over whichever
    # landing engine the deployment's `landing` resource is, labelled with its kinds. The correctness
    # prober writes its synthetic rows before each read of an engine it probes (off unless
    # FINANCE_RECON_PROBE_ENABLED; docs/operations.md).
    landing = resources["landing"]
    source_assets = build_source_assets(
        landing, before_read=build_before_read(settings) if landing.PROBED else None
    )
    # The report's row lives in the warehouse's `finance_reconciliation_report` table: its kinds say which.
    report = finance_reconciliation_report.map_asset_specs(
        lambda spec: spec.replace_attributes(kinds={*spec.kinds, resources["warehouse"].STORAGE_KIND})
    )
    assets = apply_freshness(
        [*source_assets, build_reconciliation_dbt_models(settings), report],
        freshness_policy(settings.sla_minutes, settings.warn_minutes),
    )
    checks = [*build_quality_checks(settings), report_publication]
    # One asset group for the whole platform: with two groups or more, the UI's global lineage opens
    # collapsed to one box per group and no asset name is readable until each box is expanded. The
    # stages stay apart by their kinds and their place in the lineage.
    grouped = map_asset_specs(
        lambda spec: spec.replace_attributes(group_name=ASSET_GROUP), [*assets, build_close_spec(settings)]
    )
    return Definitions(
        assets=grouped,
        asset_checks=checks,
        jobs=[reconciliation_job, build_close_job(settings)],
        schedules=[build_reconciliation_schedule(settings)],
        sensors=build_alert_sensors(
            check_keys=[key for definition in [*assets, *checks] for key in definition.check_keys],
            freshness_keys=FRESH_ASSET_KEYS,
            job_name=RECONCILIATION_JOB_NAME,
            report_key=REPORT_KEY,
        ),
        resources={
            **resources,
            **build_alerting_resources(settings),
            "pipes_subprocess_client": PipesSubprocessClient(),  # the daily close's worker
        },
        # Assets materialized from the UI run in an implicit job: same executor, same reason (jobs.py).
        executor=RECONCILIATION_EXECUTOR(settings.home),
    )


defs = build_definitions(load_settings())
