"""The spark-submit entry point (`jobs/finance_reconciliation.py`): the runbook's "rerun the job".

It runs the platform's one pipeline — the Dagster reconciliation job through the definitions
(`finance_recon.cli.pipeline.execute`, exactly what `finance-recon run` does) with the Spark landing
engine: the `landing` resource (`SparkLandingResource`) finds the spark-submit driver's session
(`getOrCreate`).
It extracts, checks, reconciles and publishes, and is recorded in the Dagster instance like any run.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="finance_reconciliation", description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", help="cut-off, ISO-8601 with offset (default: the run's start)")
    parser.add_argument("--full-refresh", action="store_true", help="re-read both sources entirely")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("FINANCE_RECON_LANDING_ENGINE", "spark")
    from finance_recon.cli.pipeline import RunRequestOptions, execute, format_summary
    from finance_recon.settings import load_settings
    from finance_recon.spark.config import load_spark_settings
    from finance_recon.spark.session import check_jdbc_drivers, get_session

    settings = load_settings()
    spark_settings = load_spark_settings(settings)
    if spark_settings.landing_engine != "spark":
        print(
            "finance_reconciliation: FINANCE_RECON_LANDING_ENGINE must be spark for this job", file=sys.stderr
        )
        return 2
    # Under spark-submit: the submitted app's session (our SQL settings applied to it).
    check_jdbc_drivers(get_session(spark_settings), spark_settings)

    outcome = execute(RunRequestOptions(as_of=args.as_of, full_refresh=args.full_refresh), settings)
    if args.json:
        print(outcome.as_json())
    elif outcome.success:
        print(format_summary(outcome.manifest))
        print(f"report           {outcome.report_url}")
    if not outcome.success:
        print(f"finance_reconciliation: FAILED ({outcome.run_id}): {outcome.cause}", file=sys.stderr)
        return 1
    return 0
