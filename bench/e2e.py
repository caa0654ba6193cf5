"""End-to-end benchmark: embedded path vs Spark path vs a naive pandas baseline, same sources, one run.

    python -m bench.e2e --orders 1000000 [--orders 10000000] [--paths embedded,spark_duckdb,spark_spark,pandas]

Seeds a synthetic shop (`generate_shop`, ≈1.05 payments per order) into MariaDB (orders) and
PostgreSQL (payments) — not timed — then runs every path in its own subprocess (so wall time and
peak RSS are its own; RSS is sampled over the whole process tree, the Spark JVM included):

  embedded       extract (DuckDB landing, contract checks) → dbt build on DuckDB (models + data and
                 unit tests: the checks) → publish stand-in (breaks → Parquet + CSV)
  spark_duckdb   Spark start → Spark JDBC landing into the Parquet lake → dbt build on DuckDB over
                 the lake (views) → publish stand-in
  spark_spark    Spark start → Spark JDBC landing → dbt run on Spark (dbt-spark session; tests
                 excluded: 136 nodes cost minutes of per-statement Spark overhead) → publish stand-in
  pandas         pandas.read_sql of both tables → merge/groupby rules (bench/baselines/pandas_recon)

The publish stand-in writes the breaks as Parquet and CSV; the real report step (manifest, HTML,
object store) is the same code whichever landing engine ran, so it is not what this compares.
Category counts of all paths must agree, or the benchmark exits non-zero.
Environment: FINANCE_RECON_BENCH_MYSQL (default mysql+pymysql://root@127.0.0.1:3306) and
FINANCE_RECON_BENCH_PG (default postgresql://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANCHOR = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
AS_OF = "2026-11-28T12:10:00Z"  # the generator's ground truth holds for as_of in [anchor, anchor + 20 min]
PATHS = ("embedded", "spark_duckdb", "spark_spark", "pandas")


# ------------------------------------------------------------------------------------------ memory


def _tree_rss_kb(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as fh:
                rss[int(entry)] = int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


class PeakRss:
    """Samples the RSS of this process and all its descendants (the Spark JVM) every 0.25 s."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(os.getpid()))
            self._stop.wait(0.25)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, _tree_rss_kb(os.getpid()))


class Stages:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def __call__(self, name: str):
        stages = self

        class _Stage:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                stages.times[name] = round(time.perf_counter() - self.t, 2)

        return _Stage()


# -------------------------------------------------------------------------------------- the paths


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

    stages = Stages()
    dbt_vars = {"as_of": AS_OF, "tolerance": "0.00", "grace_minutes": 60}
    with PeakRss() as rss:
        t0 = time.perf_counter()
        if path == "embedded":
            from finance_recon.sources.extract import extract_table
            from finance_recon.spark.reconcile import reconcile_on_duckdb
            from finance_recon.warehouse import WarehouseResource

            wh = WarehouseResource(path=str(work / "warehouse.duckdb"))
            with stages("extract_orders"):
                extract_table(ORDERS, orders_url, wh)
            with stages("extract_payments"):
                extract_table(PAYMENTS, payments_url, wh)
            with stages(f"dbt_{dbt_command}_duckdb"):
                reconcile_on_duckdb(Path(wh.path), dbt_vars, work / "dbt", command=(dbt_command,))
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
                    load_spark_settings(), extra={"spark.sql.warehouse.dir": str(work / "spark-warehouse")}
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
                    reconcile_on_duckdb(wh, dbt_vars, work / "dbt", command=(dbt_command,))
                with stages("publish"):
                    _publish_duckdb(wh, work / "out")
                counts = _counts_duckdb(wh)
            else:
                with stages("dbt_run_spark"):
                    reconcile_on_spark(lake, dbt_vars, work / "dbt", command=("run",))
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
        "peak_rss_mb": round(rss.peak_kb / 1024),
        "counts": dict(sorted((str(k), int(v)) for k, v in counts.items())),
    }


# ----------------------------------------------------------------------------------------- driver


def seed(n_orders: int) -> tuple[str, str, int, int]:
    from finance_recon.demo.generator import generate_shop
    from finance_recon.demo.seed import connect, seed_shop

    mysql = os.environ.get("FINANCE_RECON_BENCH_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")
    pg = os.environ.get("FINANCE_RECON_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
    db = f"fr_e2e_{n_orders}"
    orders_url, payments_url = f"{mysql}/{db}", f"{pg}/{db}"
    shop = generate_shop(n_orders, seed=7, anchor=ANCHOR)
    t = time.perf_counter()
    seed_shop(shop, orders_url, payments_url)
    with connect(payments_url) as conn, conn.cursor() as cur:
        cur.execute("ANALYZE payments")
        conn.commit()
    print(
        f"seeded {shop.orders.num_rows} orders, {shop.payments.num_rows} payments in {time.perf_counter() - t:.0f}s "
        "(not timed)",
        file=sys.stderr,
    )
    return orders_url, payments_url, shop.orders.num_rows, shop.payments.num_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--orders", type=int, action="append", help="orders per run (repeatable); default 1000000"
    )
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--work", default=str(REPO / ".finance_recon" / "bench-e2e"))
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--dbt",
        choices=("build", "run"),
        default="build",
        help="dbt command of the DuckDB paths (Spark always runs `dbt run`)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--orders-url", help=argparse.SUPPRESS)
    parser.add_argument("--payments-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_path(args.child, args.orders_url, args.payments_url, Path(args.work), args.dbt)))
        return 0

    all_results, ok = [], True
    for n in args.orders or [1_000_000]:
        orders_url, payments_url, n_orders, n_payments = seed(n)
        results = []
        for path in args.paths.split(","):
            work = Path(args.work) / f"{n}" / path
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            t = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.e2e",
                    "--child",
                    path,
                    "--orders-url",
                    orders_url,
                    "--payments-url",
                    payments_url,
                    "--work",
                    str(work),
                    "--dbt",
                    args.dbt,
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                env={**os.environ, "FINANCE_RECON_HOME": str(work / "home"), "PYTHONUNBUFFERED": "1"},
            )
            if proc.returncode != 0:
                print(f"{path}: FAILED\n{proc.stderr[-3000:]}", file=sys.stderr)
                ok = False
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            result["process_s"] = round(time.perf_counter() - t, 2)
            result["rows_per_s"] = round((n_orders + n_payments) / result["wall_s"])
            results.append(result)
            print(
                f"  {path:<13} {result['wall_s']:>8.1f}s  {result['peak_rss_mb']:>6} MB  {result['stages']}",
                file=sys.stderr,
            )
        reference = results[0]["counts"] if results else {}
        for r in results:
            r["counts_match"] = r["counts"] == reference
            ok &= r["counts_match"]
        all_results.append({"orders": n_orders, "payments": n_payments, "results": results})
        print(report(n_orders, n_payments, results))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "runs": all_results}, indent=2))
    return 0 if ok else 1


def machine() -> dict:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "mem_gb": round(mem_gb),
        "load_avg_at_end": os.getloadavg(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def report(n_orders: int, n_payments: int, results: list[dict]) -> str:
    lines = [
        f"\n{n_orders:,} orders + {n_payments:,} payments (seed excluded); machine {machine()}",
        f"{'path':<14}{'wall s':>9}{'rows/s':>11}{'peak RSS MB':>13}  counts  stages (s)",
    ]
    for r in results:
        lines.append(
            f"{r['path']:<14}{r['wall_s']:>9.1f}{r['rows_per_s']:>11,}{r['peak_rss_mb']:>13}  "
            f"{'same' if r['counts_match'] else 'DIFF':<7} "
            + ", ".join(f"{k} {v}" for k, v in r["stages"].items())
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
