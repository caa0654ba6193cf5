"""The Dagster code location: gathers the assets, checks, jobs, schedules and sensors and wires resources.

Only entry points (the CLI, workspace.yaml, tests) import this module. `build_definitions` exists so
that a process can wire a second deployment (tests, the CLI with another FINANCE_RECON_HOME).
"""

from dagster import Definitions, PipesSubprocessClient

from finance_recon.alerting.resources import build_alerting_resources
from finance_recon.alerting.sensors import build_alert_sensors
from finance_recon.jobs import RECONCILIATION_EXECUTOR, close_job, reconciliation_job
from finance_recon.names import FRESH_ASSET_KEYS, RECONCILIATION_JOB_NAME, REPORT_KEY
from finance_recon.probe.step import build_before_read
from finance_recon.quality.checks import build_quality_checks
from finance_recon.quality.freshness import apply_freshness, freshness_policy
from finance_recon.reconciliation.assets import build_reconciliation_dbt_models
from finance_recon.report.assets import finance_reconciliation_report
from finance_recon.report.close_asset import build_close_asset
from finance_recon.report.publication_check import report_publication
from finance_recon.resources import build_resources
from finance_recon.schedules import build_reconciliation_schedule
from finance_recon.settings import Settings, load_settings
from finance_recon.sources.assets import build_source_assets


def build_definitions(settings: Settings) -> Definitions:
    resources = build_resources(settings)
    # The same `orders` and `payments` over whichever landing engine the deployment's `landing`
    # resource is (embedded DuckDB or Spark JDBC → Parquet lake), labelled with its kinds. The
    # correctness prober writes its synthetic rows before each read of an engine it probes (off
    # unless FINANCE_RECON_PROBE_ENABLED; docs/operations.md).
    landing = resources["landing"]
    source_assets = build_source_assets(
        landing, before_read=build_before_read(settings) if landing.PROBED else None
    )
    assets = apply_freshness(
        [*source_assets, build_reconciliation_dbt_models(settings), finance_reconciliation_report],
        freshness_policy(settings.sla_minutes, settings.warn_minutes),
    )
    checks = [*build_quality_checks(settings), report_publication]
    return Definitions(
        assets=[*assets, build_close_asset(settings)],
        asset_checks=checks,
        jobs=[reconciliation_job, close_job],
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
