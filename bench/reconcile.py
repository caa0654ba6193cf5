"""Reconciliation benchmark: the platform's dbt models vs one hand-written DuckDB query vs pandas, same run.

    python -m bench.reconcile --orders 1000000 [--orders 10000000] [--repeat 3]

Generates a synthetic shop with known ground truth (`finance_recon.demo.generator`, not timed), lands
it into a fresh DuckDB warehouse file as `landing.orders` / `landing.payments` with the contract
types (DECIMAL(18,2), TIMESTAMPTZ), then runs every method in its own subprocess on that file, so
that each wall time and peak RSS is its own:

  platform: dbt run     `dbt run` of the models (staging → intermediate → marts): the reconcile step
  platform: dbt build   `dbt build`: the same plus every data test and unit test (what the asset runs)
  hand-written SQL      `bench.baselines.duckdb_sql`: one query, materialised as a table of items (key,
                        md5 break_id, amounts, age bucket, category), then counted
  hand-written counts   the same query aggregated straight to counts (nothing written; the floor)
  pandas                `bench.baselines.pandas_recon`: read both tables whole, merge/groupby/np.select

Every method's category counts must equal each other and the generator's ground truth, or the
benchmark exits non-zero. Targets (issue 4 item 7): dbt run ≤ 1.5× the hand-written query, and
≥ 10× faster than pandas. The dbt project is parsed once beforehand (not timed), as the deployed
code location does; dbt's remaining per-invocation start-up (imports, adapter, manifest load) is
timed, because every run pays it. Wall times are of the whole subprocess (interpreter start
included); the inner time excludes start-up: dbt's run_results `elapsed_time`, or the baseline's
own timer around read + compute.

The baselines (`bench/baselines/`) exist only for this benchmark; the rules live in the dbt models.
Figures and their reading: docs/benchmarks.md, section Reconciliation.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench import harness
from bench.harness import (
    ANCHOR,
    REPO,
    Column,
    Table,
    machine,
    own_peak_rss_mb,
    spawn,
    write_json,
)

DBT_PROJECT = REPO / "dbt_project"
AS_OF = ANCHOR + timedelta(minutes=10)  # the ground truth holds for as_of in [anchor, anchor + 20 min]
TOLERANCE = "0.00"
GRACE_MINUTES = 60
HANDWRITTEN_TABLE = "bench_handwritten.reconciliation_items"

METHODS = ("dbt_run", "dbt_build", "handwritten", "handwritten_counts", "pandas")
LABELS = {
    "dbt_run": "platform: dbt run",
    "dbt_build": "platform: dbt build",
    "handwritten": "hand-written SQL",
    "handwritten_counts": "hand-written counts",
    "pandas": "pandas",
}


# ------------------------------------------------------------------------------------------ landing


def land_shop(shop, path: Path) -> tuple[int, int]:
    """A fresh warehouse file with `landing.orders` / `landing.payments` in the contract DDL."""
    import duckdb

    from finance_recon.contracts import ORDERS, PAYMENTS

    path = Path(path)
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    conn = duckdb.connect(str(path))
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("CREATE SCHEMA landing")
        for table, data in ((ORDERS, shop.orders), (PAYMENTS, shop.payments)):
            # Same DDL as finance_recon.sources.landing.ensure_landing (not imported: it pulls in Dagster).
            ddl = ", ".join(
                f"{c.name} {c.warehouse_type}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
            )
            conn.execute(f"CREATE TABLE landing.{table.asset_name} ({ddl})")
            conn.register("_bench_src", data)
            try:
                conn.execute(
                    f"INSERT INTO landing.{table.asset_name} SELECT {', '.join(table.column_names)} FROM _bench_src"
                )
            finally:
                conn.unregister("_bench_src")
        conn.execute("CHECKPOINT")
        return (
            conn.execute("SELECT count(*) FROM landing.orders").fetchone()[0],
            conn.execute("SELECT count(*) FROM landing.payments").fetchone()[0],
        )
    finally:
        conn.close()


# ------------------------------------------------------------------------------------ child methods


def prepare(db: str, n_orders: int, seed: int) -> dict:
    """Generate the shop and land it (in a child, so the harness itself stays small: a forked child
    inherits its parent's peak RSS as its own starting ru_maxrss)."""
    from finance_recon.demo.generator import generate_shop

    started = time.perf_counter()
    shop = generate_shop(n_orders, seed=seed, anchor=ANCHOR)
    generated_s = time.perf_counter() - started
    started = time.perf_counter()
    n_orders, n_payments = land_shop(shop, Path(db))
    return {
        "n_orders": n_orders,
        "n_payments": n_payments,
        "expected": shop.expected_counts(),
        "generated_s": generated_s,
        "landed_s": time.perf_counter() - started,
    }


def run_child(method: str, db: str, as_of: str, tolerance: str, grace_minutes: int) -> dict:
    """A baseline inside this (fresh) interpreter; returns its counts and inner time (imports and
    connecting excluded, as dbt's elapsed_time excludes its start-up)."""
    import duckdb

    if method == "platform_counts":
        return {"counts": platform_counts(db)}
    if method not in ("handwritten", "handwritten_counts", "pandas"):
        raise SystemExit(f"unknown method {method}")
    from bench.baselines import duckdb_sql

    if method == "pandas":
        from bench.baselines import pandas_recon  # imports pandas: before the timer

    conn = duckdb.connect(db)
    conn.execute("SET TimeZone = 'UTC'")
    started = time.perf_counter()
    if method == "handwritten":
        conn.execute("CREATE SCHEMA IF NOT EXISTS " + HANDWRITTEN_TABLE.split(".")[0])
        counts = duckdb_sql.materialize(conn, HANDWRITTEN_TABLE, as_of, tolerance, grace_minutes)
    elif method == "handwritten_counts":
        counts = duckdb_sql.reconcile_counts(conn, as_of, tolerance, grace_minutes)
    else:
        orders, payments = pandas_recon.load_landing(conn)
        conn.close()  # the analyst's DataFrames are in memory; the rest is pandas
        read_s = time.perf_counter() - started
        counts = pandas_recon.reconcile_counts(orders, payments, as_of, tolerance, grace_minutes)
        return {"counts": counts, "inner_s": time.perf_counter() - started, "read_s": read_s}
    inner = time.perf_counter() - started
    conn.close()
    return {"counts": counts, "inner_s": inner}


# ------------------------------------------------------------------------------------------ harness


def _dbt_env(db: Path) -> dict:
    return dict(
        os.environ,
        FINANCE_RECON_WAREHOUSE_PATH=str(db),
        FINANCE_RECON_WAREHOUSE_TARGET="duckdb",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_VERSION_CHECK="false",
    )


def _dbt_cmd(verb: str, work: Path, dbt_vars: dict) -> list[str]:
    return [
        str(Path(sys.executable).parent / "dbt"),
        verb,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(work / "dbt_target"),
        "--log-path",
        str(work / "dbt_logs"),
        "--vars",
        json.dumps(dbt_vars),
    ]


def platform_counts(db: str) -> dict[str, int]:
    """Category counts of the platform's `fct_reconciliation_items`, checked against its summary row."""
    import duckdb

    conn = duckdb.connect(str(db), read_only=True)
    try:
        rows = conn.execute(
            "SELECT category, count(*) FROM main.fct_reconciliation_items GROUP BY category ORDER BY category"
        ).fetchall()
        summary_breaks = conn.execute("SELECT breaks FROM main.rpt_reconciliation_summary").fetchone()[0]
    finally:
        conn.close()
    counts = {c: int(n) for c, n in rows}
    breaks = sum(n for c, n in counts.items() if c not in ("matched", "open", "in_flight"))
    if summary_breaks != breaks:
        raise SystemExit(f"rpt_reconciliation_summary.breaks={summary_breaks} but fct has {breaks} breaks")
    return counts


def measure(method: str, db: Path, work: Path, dbt_vars: dict) -> dict:
    if method in ("dbt_run", "dbt_build"):
        results = work / "dbt_target" / "run_results.json"
        results.unlink(missing_ok=True)
        run = spawn(_dbt_cmd(method.split("_")[1], work, dbt_vars), _dbt_env(db))
        if run.returncode != 0:
            raise SystemExit(
                f"{method} failed (exit {run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
            )
        run_results = json.loads(results.read_text())
        nodes = run_results["results"]
        return {
            "wall_s": run.wall_s,
            "rss_mb": run.peak_rss_mb,
            "inner_s": run_results["elapsed_time"],
            "counts": _child("platform_counts", db, dbt_vars)["counts"],
            "nodes": len(nodes),
        }
    wall, rss, result = _child(method, db, dbt_vars, timed=True)
    return {"wall_s": wall, "rss_mb": rss, **result}


def _child(method: str, db: Path, dbt_vars: dict, *, timed: bool = False, extra: list[str] = ()):
    args = [
        method,
        "--db",
        str(db),
        *extra,
        "--as-of",
        dbt_vars["as_of"],
        "--tolerance",
        dbt_vars["tolerance"],
    ]
    result, run = harness.run_child(
        "bench.reconcile", [*args, "--grace-minutes", str(dbt_vars["grace_minutes"])]
    )
    return (run.wall_s, run.peak_rss_mb, result) if timed else result


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


REPORT = Table(
    [
        Column("method", 22, left=True),
        Column("wall s", 9, ".2f"),
        Column("rows/s", 13, ",.0f"),
        Column("inner s", 9, ".2f"),
        Column("peak RSS MB", 13, ",.0f"),
    ],
    indent="  ",
)


def report(n_orders: int, n_payments: int, results: dict[str, list[dict]]) -> list[str]:
    rows_in = n_orders + n_payments
    lines = [
        f"\nreconcile {n_orders:,} orders + {n_payments:,} payments ({rows_in:,} input rows), "
        f"median of {len(next(iter(results.values())))} run(s)",
        REPORT.header(),
    ]
    for method, runs in results.items():
        wall = _median(runs, "wall_s")
        peak = max(r["rss_mb"] for r in runs)
        lines.append(REPORT.row([LABELS[method], wall, rows_in / wall, _median(runs, "inner_s"), peak]))
    if "pandas" in results and "read_s" in results["pandas"][0]:
        lines.append(
            f"  (pandas inner time includes {_median(results['pandas'], 'read_s'):.2f}s reading into DataFrames)"
        )

    def ratio(a: str, b: str, key: str) -> float | None:
        if a in results and b in results:
            return _median(results[a], key) / _median(results[b], key)
        return None

    lines.append("  ratios (wall; inner in brackets):")
    for a, b, target, label in (
        ("dbt_run", "handwritten", "≤ 1.5", "platform dbt run / hand-written SQL"),
        ("dbt_run", "handwritten_counts", None, "platform dbt run / hand-written counts"),
        ("dbt_build", "handwritten", None, "platform dbt build / hand-written SQL"),
        ("pandas", "dbt_run", "≥ 10", "pandas / platform dbt run"),
        ("pandas", "dbt_build", None, "pandas / platform dbt build"),
    ):
        w, i = ratio(a, b, "wall_s"), ratio(a, b, "inner_s")
        if w is None:
            continue
        verdict = ""
        if target:
            met = w <= 1.5 if target.startswith("≤") else w >= 10
            verdict = f"  target {target}×: {'met' if met else 'MISSED'}"
        lines.append(f"    {label:<40}{w:>6.2f}× [{i:.2f}×]{verdict}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=1, help="runs per method (median reported)")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}"
    )
    parser.add_argument(
        "--pandas-max-orders",
        type=int,
        default=None,
        help="skip pandas above this many orders (it holds every table in RAM several times)",
    )
    parser.add_argument("--workdir", help="where the warehouse file goes (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the warehouse file and dbt target")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--tolerance", default=TOLERANCE, help=argparse.SUPPRESS)
    parser.add_argument("--grace-minutes", type=int, default=GRACE_MINUTES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "prepare":
        print(json.dumps(prepare(args.db, args.orders, args.seed)))
        return 0
    if args.child:
        print(json.dumps(run_child(args.child, args.db, args.as_of, args.tolerance, args.grace_minutes)))
        return 0

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods: {', '.join(sorted(unknown))}")
    if args.pandas_max_orders is not None and args.orders > args.pandas_max_orders and "pandas" in methods:
        methods.remove("pandas")
        print(f"pandas skipped: {args.orders:,} orders > --pandas-max-orders {args.pandas_max_orders:,}")

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_reconcile_"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "warehouse.duckdb"
    dbt_vars = {"as_of": AS_OF.isoformat(), "tolerance": TOLERANCE, "grace_minutes": GRACE_MINUTES}
    try:
        prep = _child("prepare", db, dbt_vars, extra=["--orders", str(args.orders), "--seed", str(args.seed)])
        n_orders, n_payments, expected = prep["n_orders"], prep["n_payments"], prep["expected"]
        print(
            f"generated in {prep['generated_s']:.1f}s and landed in {prep['landed_s']:.1f}s (not timed): "
            f"{n_orders:,} orders, {n_payments:,} payments ({n_payments / n_orders:.3f}×) → {db}",
            flush=True,
        )
        if any(m.startswith("dbt_") for m in methods):
            started = time.perf_counter()
            parse = spawn(_dbt_cmd("parse", work, dbt_vars), _dbt_env(db))
            if parse.returncode != 0:
                raise SystemExit(f"dbt parse failed:\n{parse.stdout[-3000:]}\n{parse.stderr[-2000:]}")
            print(f"dbt parse (not timed): {time.perf_counter() - started:.1f}s", flush=True)

        print(
            f"as_of={dbt_vars['as_of']} τ={TOLERANCE} G={GRACE_MINUTES}m; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before timing; "
            f"harness RSS {own_peak_rss_mb():.0f} MB (a floor for the peaks)",
            flush=True,
        )
        results: dict[str, list[dict]] = {m: [] for m in methods}
        for round_ in range(args.repeat):
            for method in methods:
                result = measure(method, db, work, dbt_vars)
                results[method].append(result)
                print(
                    f"  [{round_ + 1}/{args.repeat}] {LABELS[method]:<22}{result['wall_s']:>8.2f}s wall "
                    f"{result['inner_s']:>8.2f}s inner {result['rss_mb']:>8,.0f} MB "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )

        failures = []
        for method, runs in results.items():
            for r in runs:
                if r["counts"] != expected:
                    diff = {
                        c: (r["counts"].get(c, 0), expected.get(c, 0))
                        for c in sorted(set(r["counts"]) | set(expected))
                        if r["counts"].get(c, 0) != expected.get(c, 0)
                    }
                    failures.append(f"{LABELS[method]}: (got, expected) {diff}")
        print("\n".join(report(n_orders, n_payments, results)))
        if args.json:
            summary = {"orders": n_orders, "payments": n_payments, "expected": expected}
            write_json(
                {
                    "kind": "reconcile",
                    "machine": machine(),
                    **summary,
                    "results": results,
                    "failures": failures,
                },
                Path(args.json),
            )
        print(
            "\ncategory counts (identical across methods and equal to the generator's ground truth):"
            if not failures
            else ""
        )
        if failures:
            print("CATEGORY COUNTS DIFFER:\n  " + "\n  ".join(failures), file=sys.stderr)
            return 1
        print("  " + ", ".join(f"{c}={n:,}" for c, n in expected.items()))
        return 0
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep:
            print(f"kept {work}")


if __name__ == "__main__":
    sys.exit(main())
