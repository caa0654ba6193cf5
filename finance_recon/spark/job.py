"""The spark-submit job (`jobs/finance_reconciliation.py`): the runbook's "rerun the job".

Default mode is the platform's own run — the Dagster reconciliation job through the definitions
(`finance_recon.cli.pipeline.execute`, exactly what `finance-recon run` does) with the Spark landing
engine: the step's `LazyPySparkResource` finds the spark-submit driver's session (`getOrCreate`).
It extracts, checks, reconciles and publishes, and is recorded in the Dagster instance like any run.

`--direct` skips Dagster (no checks, no report): land both tables through Spark and run the dbt
models in this process on `--dbt-target spark|duckdb`. For benchmarks and diagnosis only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="finance_reconciliation", description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", help="cut-off, ISO-8601 with offset (default: the run's start)")
    parser.add_argument("--full-refresh", action="store_true", help="re-read both sources entirely")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument(
        "--direct", action="store_true", help="land + dbt without Dagster (no checks, no report)"
    )
    parser.add_argument(
        "--dbt-target", choices=("spark", "duckdb"), default="spark", help="--direct: where dbt runs"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("FINANCE_RECON_LANDING_ENGINE", "spark")
    from finance_recon.settings import load_settings

    from .config import load_spark_settings
    from .session import check_jdbc_drivers, get_session

    settings = load_settings()
    spark_settings = load_spark_settings(settings)
    if spark_settings.landing_engine != "spark":
        print(
            "finance_reconciliation: FINANCE_RECON_LANDING_ENGINE must be spark for this job", file=sys.stderr
        )
        return 2
    # Under spark-submit: the submitted app's session (our SQL settings applied to it).
    check_jdbc_drivers(get_session(spark_settings), spark_settings)
    if args.direct:
        return _direct(args, settings, spark_settings)

    from finance_recon.cli.pipeline import RunRequestOptions, execute, format_summary

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


def _direct(args, settings, spark_settings) -> int:
    from finance_recon.contracts import ORDERS, PAYMENTS
    from finance_recon.reconciliation.parameters import format_ts, parse_as_of
    from finance_recon.warehouse import WarehouseResource

    from .lake import Lake, register_duckdb_views
    from .landing import land_table
    from .reconcile import reconcile_on_duckdb, reconcile_on_spark
    from .session import get_session

    spark = get_session(spark_settings)
    lake = Lake(spark_settings.lake_dir)
    as_of = parse_as_of(args.as_of) if args.as_of else datetime.now(UTC).replace(microsecond=0)
    timings: dict[str, float] = {}
    results = {}
    for table, url in ((ORDERS, settings.orders_url), (PAYMENTS, settings.payments_url)):
        t = time.perf_counter()
        results[table.asset_name] = land_table(
            spark,
            table,
            url,
            lake,
            look_back_minutes=settings.look_back_minutes,
            partitions=spark_settings.partitions,
            full_refresh=args.full_refresh,
        ).metadata()
        timings[f"land_{table.asset_name}_s"] = round(time.perf_counter() - t, 2)
    dbt_vars = {
        "as_of": format_ts(as_of),
        "tolerance": str(settings.tolerance),
        "grace_minutes": settings.grace_minutes,
    }
    work = settings.home / "spark-job"
    t = time.perf_counter()
    if args.dbt_target == "spark":
        reconcile_on_spark(lake, dbt_vars, work)
        counts = {
            r["category"]: r["n"]
            for r in spark.sql(
                "select category, count(*) as n from finance_recon.fct_reconciliation_items group by category"
            ).collect()
        }
    else:
        warehouse = WarehouseResource(path=str(settings.warehouse_path))
        with warehouse.connection() as conn:
            register_duckdb_views(conn, lake, [ORDERS, PAYMENTS])
        reconcile_on_duckdb(Path(settings.warehouse_path), dbt_vars, work)
        with warehouse.connection(read_only=True) as conn:
            counts = dict(
                conn.execute(
                    "select category, count(*) from main.fct_reconciliation_items group by category"
                ).fetchall()
            )
    timings["reconcile_s"] = round(time.perf_counter() - t, 2)
    out = {
        "as_of": dbt_vars["as_of"],
        "dbt_target": args.dbt_target,
        "landing": results,
        "categories": dict(sorted(counts.items())),
        "timings": timings,
    }
    print(json.dumps(out, indent=2, default=str) if args.json else _text(out))
    return 0


def _text(out: dict) -> str:
    lines = [f"as_of {out['as_of']}  (dbt on {out['dbt_target']}; direct mode: no checks, nothing published)"]
    for name, meta in out["landing"].items():
        lines.append(
            f"{name:<9} {meta['mode']:<12} extracted {meta['rows_extracted']:>9}  total {meta['rows_total']:>9}  "
            f"watermark {meta['watermark_after']}"
        )
    lines += [f"  {c:<20}{n:>9}" for c, n in out["categories"].items()]
    lines.append("timings " + ", ".join(f"{k}={v}" for k, v in out["timings"].items()))
    return "\n".join(lines)
