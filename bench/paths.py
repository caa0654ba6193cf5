"""In-process path comparison: embedded vs Spark vs pandas on the same seeded sources, one process per path.

    python -m bench.paths --orders 1000000 [--paths embedded,spark_duckdb,spark_spark,pandas] [--dbt run|build]

The earlier end-to-end comparison (before `bench.e2e` measured the real CLI): per size, the shop is
seeded (not timed) into `fr_e2e_<N>` on each bench server (orders → MariaDB, payments → PostgreSQL),
then each path runs in its own subprocess, so its wall time and peak RSS (sampled every 0.25 s over
its process tree, the Spark JVM included) are its own:

  embedded       extract both tables into DuckDB `landing.*` → `dbt build` on DuckDB → publish stand-in
  spark_duckdb   Spark start → Spark JDBC landing into the Parquet lake → `dbt build` on DuckDB over it
  spark_spark    Spark start → Spark JDBC landing → `dbt run` on Spark → breaks written by Spark
  pandas         `pandas.read_sql` of both tables → `bench/baselines/pandas_recon.py`, no checks

"Publish stand-in" = the breaks written as Parquet + CSV. Every path's category counts must agree or
the benchmark exits 1. Environment: FINANCE_RECON_BENCH_MYSQL / FINANCE_RECON_BENCH_PG (bench.harness).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from bench.harness import (
    REPO,
    Column,
    Stages,
    Table,
    TreeRss,
    machine,
    run_child,
    seed_bench_databases,
    write_json,
)

AS_OF = "2026-11-28T12:10:00Z"  # harness.ANCHOR + 10 min
PATHS = ("embedded", "spark_duckdb", "spark_spark", "pandas")


def _counts_duckdb(path: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(
            conn.execute("select category, count(*) from main.fct_reconciliation_items group by 1").fetchall()
        )


def _publish_duckdb(path: Path, out: Path) -> int:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path), read_only=True) as conn:
        q = "select * from main.fct_reconciliation_items where is_break order by item_key"
        conn.execute(f"copy ({q}) to '{out / 'breaks.parquet'}' (format parquet)")
        conn.execute(f"copy ({q}) to '{out / 'breaks.csv'}' (format csv, header)")
        return conn.execute("select count(*) from main.fct_reconciliation_items where is_break").fetchone()[0]


def run_path(path: str, orders_url: str, payments_url: str, work: Path, dbt_command: str = "build") -> dict:
    from finance_recon.contracts import ORDERS, PAYMENTS
    from finance_recon.settings import load_settings

    settings = load_settings()  # the harness is an entry point: it resolves the settings once
    stages = Stages()
    dbt_vars = {"as_of": AS_OF, "tolerance": "0.00", "grace_minutes": 60}
    with TreeRss(interval=0.25) as rss:
        t0 = time.perf_counter()
        if path == "embedded":
            from finance_recon.sources.extract import extract_table
            from finance_recon.spark.reconcile import reconcile_on_duckdb
            from finance_recon.warehouse import WarehouseResource

            wh = WarehouseResource(path=str(work / "warehouse.duckdb"))
            with stages("extract_orders"):
                extract_table(ORDERS, orders_url, wh, promote_now=True)
            with stages("extract_payments"):
                extract_table(PAYMENTS, payments_url, wh, promote_now=True)
            with stages(f"dbt_{dbt_command}_duckdb"):
                reconcile_on_duckdb(
                    Path(wh.path), dbt_vars, work / "dbt", command=(dbt_command,), settings=settings
                )
            with stages("publish"):
                _publish_duckdb(Path(wh.path), work / "out")
            counts = _counts_duckdb(Path(wh.path))
        elif path.startswith("spark"):
            from finance_recon.spark.config import load_spark_settings
            from finance_recon.spark.lake import Lake, register_duckdb_views
            from finance_recon.spark.landing import land_table
            from finance_recon.spark.reconcile import reconcile_on_duckdb, reconcile_on_spark
            from finance_recon.spark.session import get_session

            with stages("spark_start"):
                spark = get_session(
                    load_spark_settings(settings),
                    extra={"spark.sql.warehouse.dir": str(work / "spark-warehouse")},
                )
                spark.range(1).count()
            lake = Lake(work / "lake")
            with stages("land_orders"):
                land_table(spark, ORDERS, orders_url, lake, partitions=4, min_rows_per_partition=50_000)
            with stages("land_payments"):
                land_table(spark, PAYMENTS, payments_url, lake, partitions=4, min_rows_per_partition=50_000)
            if path == "spark_duckdb":
                import duckdb

                wh = work / "warehouse.duckdb"
                with stages(f"dbt_{dbt_command}_duckdb"):
                    with duckdb.connect(str(wh)) as conn:
                        register_duckdb_views(conn, lake, [ORDERS, PAYMENTS])
                    reconcile_on_duckdb(wh, dbt_vars, work / "dbt", command=(dbt_command,), settings=settings)
                with stages("publish"):
                    _publish_duckdb(wh, work / "out")
                counts = _counts_duckdb(wh)
            else:
                with stages("dbt_run_spark"):
                    reconcile_on_spark(lake, dbt_vars, work / "dbt", command=("run",), settings=settings)
                with stages("publish"):
                    breaks = (
                        spark.table("finance_recon.fct_reconciliation_items")
                        .where("is_break")
                        .orderBy("item_key")
                    )
                    breaks.write.mode("overwrite").parquet(str(work / "out" / "breaks.parquet"))
                    breaks.write.mode("overwrite").option("header", True).csv(
                        str(work / "out" / "breaks.csv")
                    )
                counts = {
                    r[0]: r[1]
                    for r in spark.sql(
                        "select category, count(*) from finance_recon.fct_reconciliation_items group by 1"
                    ).collect()
                }
        elif path == "pandas":
            import numpy as np
            import pandas as pd
            import sqlalchemy

            from bench.baselines.pandas_recon import reconcile_counts

            def cents(s):  # the notebook way: Decimal → float → rounded cents (exact below 2^53 / 100)
                return np.round(s.astype("float64") * 100).astype("int64")

            with stages("read_sql_orders"):
                orders = pd.read_sql("select * from orders", sqlalchemy.create_engine(orders_url))
                orders["total_amount"] = cents(orders["total_amount"])
                for c in ("created_at", "updated_at"):
                    orders[c] = pd.to_datetime(orders[c]).dt.tz_localize("UTC")
            with stages("read_sql_payments"):
                pg = payments_url.replace(
                    "postgresql://", "postgresql+psycopg2://", 1
                )  # SQLAlchemy 2.1 defaults to psycopg 3
                payments = pd.read_sql("select * from payments", sqlalchemy.create_engine(pg))
                payments["amount"] = cents(payments["amount"])
                payments["order_id"] = payments["order_id"].astype("Int64")
                for c in ("created_at", "updated_at"):
                    payments[c] = pd.to_datetime(payments[c], utc=True)
            with stages("reconcile_pandas"):
                counts = reconcile_counts(orders, payments, AS_OF)
        else:
            raise ValueError(path)
        total = time.perf_counter() - t0
    return {
        "path": path,
        "wall_s": round(total, 2),
        "stages": stages.times,
        "peak_rss_mb": rss.peak_mb,
        "counts": dict(sorted((str(k), int(v)) for k, v in counts.items())),
    }


REPORT = Table(
    [
        Column("path", 14, left=True),
        Column("wall s", 9, ".1f"),
        Column("rows/s", 11, ","),
        Column("peak RSS MB", 13),
        Column("  counts", 10, left=True),
    ]
)


def report(n_orders: int, n_payments: int, results: list[dict]) -> str:
    lines = [
        f"\n{n_orders:,} orders + {n_payments:,} payments (seed excluded); machine {machine()}",
        REPORT.header() + "stages (s)",
    ]
    for r in results:
        counts = "  " + ("same" if r["counts_match"] else "DIFF")
        lines.append(
            REPORT.row([r["path"], r["wall_s"], r["rows_per_s"], r["peak_rss_mb"], counts])
            + ", ".join(f"{k} {v}" for k, v in r["stages"].items())
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paths", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--orders", type=int, action="append", help="orders per run (repeatable); default 1000000"
    )
    parser.add_argument("--paths", default=",".join(PATHS), help=f"any of {','.join(PATHS)} (default: all)")
    parser.add_argument("--work", default=str(REPO / ".finance_recon" / "bench-paths"))
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--dbt",
        choices=("build", "run"),
        default="build",
        help="dbt command of the DuckDB paths (Spark always runs `dbt run`)",
    )
    parser.add_argument(
        "--db-prefix", default="fr_e2e", help="bench database name prefix (<prefix>_<N> on both servers)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--orders-url", help=argparse.SUPPRESS)
    parser.add_argument("--payments-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_path(args.child, args.orders_url, args.payments_url, Path(args.work), args.dbt)))
        return 0

    unknown = set(args.paths.split(",")) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    all_results, ok = [], True
    for n in args.orders or [1_000_000]:
        seeded = seed_bench_databases(n, args.db_prefix)
        results = []
        for path in args.paths.split(","):
            work = Path(args.work) / f"{n}" / path
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            env = {**os.environ, "FINANCE_RECON_HOME": str(work / "home"), "PYTHONUNBUFFERED": "1"}
            child_args = [path, "--orders-url", seeded.orders_url, "--payments-url", seeded.payments_url]
            child_args += ["--work", str(work), "--dbt", args.dbt]
            try:
                result, spawned = run_child("bench.paths", child_args, env)
            except SystemExit as exc:
                print(f"{path}: FAILED\n{exc}", file=sys.stderr)
                ok = False
                continue
            result["process_s"] = round(spawned.wall_s, 2)
            result["rows_per_s"] = round((seeded.orders + seeded.payments) / result["wall_s"])
            results.append(result)
            print(
                f"  {path:<13} {result['wall_s']:>8.1f}s  {result['peak_rss_mb']:>6} MB  {result['stages']}",
                file=sys.stderr,
            )
        reference = results[0]["counts"] if results else {}
        for r in results:
            r["counts_match"] = r["counts"] == reference
            ok &= r["counts_match"]
        all_results.append({"orders": seeded.orders, "payments": seeded.payments, "results": results})
        print(report(seeded.orders, seeded.payments, results))
    if args.json:
        write_json({"machine": machine(), "runs": all_results}, Path(args.json))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
