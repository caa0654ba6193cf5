"""End-to-end benchmark of the real thing: `finance-recon run` against MariaDB + PostgreSQL, vs the raw limit.

    python -m bench.e2e --orders 1000000 [--orders 20000] [--orders 10000000] [--target trino] [--json out.json]

Per size, in one invocation:

1. Seed (not timed): `generate_shop(N, seed=7, anchor=2026-11-28T12:00Z)` bulk-loaded by the
   seeder `finance-recon seed` uses (`seed_shop`: LOAD DATA / COPY) into a dedicated database
   `fr_e2e_<N>` on each server: orders in MariaDB, payments in PostgreSQL.
2. Three runs of the ACTUAL CLI, each a subprocess `finance-recon run --as-of … --json` with the
   source URL variables pointed at the bench databases and its own FINANCE_RECON_HOME (fresh for
   the size, kept across the three runs, as in production):
     full        first run, `--full-refresh`, as_of = anchor + 10 min
     no_change   rerun, nothing changed in the sources, as_of + 1 min
     changed_1pct rerun after 1% of orders changed (order_id % 100 = 37: status moved one step
                 along paid → shipped → delivered, pending → paid; half of them also +1.00 on
                 total_amount), every payment of those orders touched; all with updated_at = now,
                 as_of + 2 min
   Each: wall seconds of the process, peak RSS of its process tree (sampled every 0.1 s from
   /proc), and per-stage seconds from the run's Dagster event log (STEP_START → STEP_SUCCESS per
   step, in $FINANCE_RECON_HOME/dagster), grouped into the CLI's own stages (extract / checks /
   reconcile / publish: `finance_recon.cli.output.stage_of`, the mapping of the CLI's stage lines),
   plus `startup` = wall − (RUN_START → RUN_SUCCESS): interpreter, imports, definitions, the instance.
3. The raw limit (bench/raw_limit.py): `mariadb --quick --batch` of orders and `psql COPY … TO
   STDOUT` of payments into /dev/null, and one hand-written DuckDB reconciliation query
   (bench/baselines/duckdb_sql.py) over the tables the full run landed; its category counts must
   equal the full run's manifest counts.
4. A table, /proc/loadavg before/after each size, the targets with PASS/MISS, and a JSON file
   (default .finance_recon/bench-e2e/e2e-<UTC time>.json).

Targets: 1M full ≤ 8× raw limit; no-change ≤ 0.2× full (1M); 1%-changed ≤ 0.3× full (1M);
10M no-change ≤ 1.5× the 20k no-change; 10M full ≤ 240 s with peak RSS ≤ 4 GB. A target whose
sizes were not run is "n/a". Exit 1 when a run fails or the counts disagree (a MISS does not fail).

The earlier in-process comparison (embedded vs Spark vs pandas, one process per path, stand-in
publish) is its own benchmark: `python -m bench.paths` (`--paths …` here is handed to it). Timing,
RSS sampling, load average, seeding, tables and the JSON file: bench/harness.py.
Environment: FINANCE_RECON_BENCH_MYSQL (default mysql+pymysql://root@127.0.0.1:3306) and
FINANCE_RECON_BENCH_PG (default postgresql://postgres@127.0.0.1:5432): servers, without database.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import (
    REPO,
    Column,
    Table,
    TreeRss,
    git_state,
    loadavg,
    machine,
    seed_bench_databases,
    write_json,
)
from finance_recon.cli.output import STAGES, stage_of

AS_OF = "2026-11-28T12:10:00Z"  # harness.ANCHOR + 10 min: the generator's ground truth holds until + 20 min
RUNS = ("full", "no_change", "changed_1pct")
REAL = "real"
TARGET_SLOW_RSS_MB = 4096


def change_one_percent(orders_url: str, payments_url: str, now: datetime) -> dict:
    """1% of orders (order_id % 100 = 37) change status (and half of them amount); their payments are touched."""
    from finance_recon.demo.seed import connect

    stamp = now.astimezone(UTC).replace(tzinfo=None)
    with connect(orders_url) as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE orders SET status = CASE status WHEN 'pending' THEN 'paid' WHEN 'paid' THEN 'shipped' "
            "WHEN 'shipped' THEN 'delivered' ELSE status END, "
            "total_amount = CASE WHEN order_id %% 200 = 37 THEN total_amount + 1.00 ELSE total_amount END, "
            "updated_at = %s WHERE order_id %% 100 = 37",
            [stamp],
        )
        orders = cur.rowcount
        conn.commit()
    with connect(payments_url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE payments SET updated_at = %s WHERE order_id %% 100 = 37", [now.astimezone(UTC)])
        payments = cur.rowcount
        conn.commit()
    return {"orders_updated": orders, "payments_touched": payments}


def _child_env(home: Path, orders_url: str, payments_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINANCE_RECON_") and k != "DAGSTER_HOME"}
    env.update(
        FINANCE_RECON_HOME=str(home),
        FINANCE_RECON_ORDERS_URL=orders_url,
        FINANCE_RECON_PAYMENTS_URL=payments_url,
        PYTHONUNBUFFERED="1",
    )
    return env


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("finance-recon")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "finance_recon"]


def dagster_stages(dagster_home: Path, run_id: str) -> dict:
    """Per-step seconds from the run's event log (STEP_START → STEP_SUCCESS/FAILURE), and the run span."""
    from dagster import DagsterEventType, DagsterInstance

    kinds = {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.RUN_START,
        DagsterEventType.RUN_SUCCESS,
        DagsterEventType.RUN_FAILURE,
    }
    instance = DagsterInstance.from_config(str(dagster_home))
    try:
        records = instance.get_records_for_run(run_id, of_type=kinds, limit=100_000).records
    finally:
        instance.dispose()
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    run_start = run_end = None
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        kind = event.event_type
        if kind == DagsterEventType.RUN_START:
            run_start = entry.timestamp
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            run_end = entry.timestamp
        elif kind == DagsterEventType.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.step_key in starts:
            steps[event.step_key] = round(entry.timestamp - starts[event.step_key], 2)
    grouped: dict[str, float] = {}
    for key, seconds in steps.items():
        stage = stage_of(key)  # the CLI's own mapping: these are the stages its lines print
        grouped[stage] = round(grouped.get(stage, 0.0) + seconds, 2)
    span = round(run_end - run_start, 2) if run_start is not None and run_end is not None else None
    return {"steps": steps, "stages": grouped, "run_span_s": span}


def run_cli(
    name: str,
    home: Path,
    orders_url: str,
    payments_url: str,
    as_of: str,
    full: bool,
    extra_env: dict[str, str] | None = None,
) -> dict:
    """One `finance-recon run --json` in its own process: wall time, tree peak RSS, outcome, stages."""
    cmd = [*_cli(), "run", "--as-of", as_of, "--json"] + (["--full-refresh"] if full else [])
    env = _child_env(home, orders_url, payments_url) | (extra_env or {})
    log = home.parent / f"{name}.stderr.log"
    with open(log, "w") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        rss = TreeRss(proc.pid, interval=0.1)
        stdout, _ = proc.communicate()
        wall = time.perf_counter() - t
        peak_kb = rss.stop()
    result: dict = {
        "run": name,
        "as_of": as_of,
        "full_refresh": full,
        "exit_code": proc.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak_kb / 1024),
    }
    try:
        outcome = json.loads(stdout[stdout.index("{") :])
    except ValueError:
        outcome = {}
    result["success"] = bool(outcome.get("success")) and proc.returncode == 0
    result["run_id"] = outcome.get("run_id")
    result["cause"] = outcome.get("cause")
    manifest = outcome.get("manifest") or {}
    result["counts"] = dict(sorted((manifest.get("counts") or {}).items()))
    result["verdict"] = manifest.get("verdict")
    if not result["success"]:
        tail = log.read_text()[-2000:]
        result["stderr_tail"] = tail
        print(f"  {name}: FAILED (exit {proc.returncode}): {result['cause']}\n{tail}", file=sys.stderr)
    if result["run_id"]:
        try:
            result.update(dagster_stages(home / "dagster", result["run_id"]))
        except Exception as exc:  # the event log is the stage source; say so if it cannot be read
            result["stages_error"] = f"{type(exc).__name__}: {exc}"
    if result.get("run_span_s") is not None:
        result["stages"] = {**result.get("stages", {}), "startup": round(wall - result["run_span_s"], 2)}
    print(
        f"  {name:<13} {result['wall_s']:>8.1f}s  {result['peak_rss_mb']:>6} MB  "
        f"{'ok' if result['success'] else 'FAILED'}  {result.get('stages', {})}",
        file=sys.stderr,
    )
    return result


def measure_size(
    n: int,
    work: Path,
    keep_home: bool = False,
    db_prefix: str = "fr_e2e",
    engines: tuple[str, ...] = ("duckdb",),
) -> dict:
    seeded = seed_bench_databases(n, db_prefix)
    orders_url, payments_url = seeded.orders_url, seeded.payments_url
    size_dir = work / str(n)
    shutil.rmtree(size_dir, ignore_errors=True)
    home = size_dir / "home"
    home.mkdir(parents=True)
    anchor_as_of = datetime.fromisoformat(AS_OF.replace("Z", "+00:00"))

    def as_of(minutes: int) -> str:
        return (anchor_as_of + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    load_before = loadavg()
    runs = [run_cli("full", home, orders_url, payments_url, as_of(0), full=True)]
    raw: dict = {}
    if runs[0]["success"]:
        from bench.raw_limit import measure

        warehouse = home / "warehouse.duckdb"
        try:
            raw = measure(orders_url, payments_url, warehouse, as_of(0), size_dir)
        except Exception as exc:
            raw = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"  raw limit     {raw}", file=sys.stderr)
        runs.append(run_cli("no_change", home, orders_url, payments_url, as_of(1), full=False))
        changed = change_one_percent(orders_url, payments_url, datetime.now(UTC))
        print(f"  changed 1%    {changed}", file=sys.stderr)
        runs.append(run_cli("changed_1pct", home, orders_url, payments_url, as_of(2), full=False))
        runs[-1]["changes"] = changed
        if runs[-1]["success"]:  # the incremental result must equal a from-scratch query over the landing
            from bench.raw_limit import duckdb_reconcile

            check = duckdb_reconcile(home / "warehouse.duckdb", as_of(2), size_dir)
            runs[-1]["counts_match_raw"] = check["counts"] == runs[-1]["counts"]
            if not runs[-1]["counts_match_raw"]:
                print(
                    f"  changed_1pct counts {runs[-1]['counts']} != query {check['counts']}", file=sys.stderr
                )
    trino_runs: list[dict] = []
    if "trino" in engines and runs[0]["success"]:
        trino_runs = measure_trino(n, size_dir, orders_url, payments_url, as_of)
    load_after = loadavg()
    if not keep_home:
        shutil.rmtree(home / "object-store", ignore_errors=True)
    counts_match = bool(raw.get("counts")) and raw.get("counts") == runs[0].get("counts")
    rerun_same = len(runs) > 1 and runs[1].get("counts") == runs[0].get("counts")
    changed_match = len(runs) > 2 and bool(runs[2].get("counts_match_raw"))
    return {
        "orders": seeded.orders,
        "payments": seeded.payments,
        "seed_s": round(seeded.seconds, 1),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "runs": runs,
        "raw_limit": raw,
        "counts_match_raw": counts_match,
        "no_change_counts_same": rerun_same,
        "changed_counts_match_raw": changed_match,
        "trino_runs": trino_runs,
    }


def drop_trino_schemas(schema: str) -> None:
    """Drop a bench deployment's three schemas on the local Trino (a fresh start for each invocation)."""
    from finance_recon.settings import load_settings
    from finance_recon.trino.client import TrinoServer, session

    settings = load_settings()
    server = TrinoServer(settings.trino_host, settings.trino_port, settings.trino_user)
    with session(server, "dropping the bench schemas") as conn:
        existing = {row[0] for row in conn.execute(f"SHOW SCHEMAS FROM {settings.trino_catalog}")}
        for name in (schema, f"{schema}_landing", f"{schema}_control"):
            if name not in existing:
                continue
            for table, kind in conn.execute(
                f"SELECT table_name, table_type FROM {settings.trino_catalog}.information_schema.tables "
                f"WHERE table_schema = '{name}'"
            ):
                conn.execute(
                    f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {settings.trino_catalog}.{name}.{table}"
                )
            conn.execute(f"DROP SCHEMA {settings.trino_catalog}.{name}")


def measure_trino(n: int, size_dir: Path, orders_url: str, payments_url: str, as_of) -> list[dict]:
    """The same three runs on FINANCE_RECON_WAREHOUSE_TARGET=trino (after the DuckDB ones, on the
    sources as they left them; a second 1% change for its changed run), then one DuckDB run at the
    changed run's as_of, whose counts the Trino run must equal."""
    schema = f"bench_e2e_{n}"
    drop_trino_schemas(schema)
    home = size_dir / "home-trino"
    home.mkdir(parents=True, exist_ok=True)
    env = {"FINANCE_RECON_WAREHOUSE_TARGET": "trino", "FINANCE_RECON_TRINO_SCHEMA": schema}
    print("  trino", file=sys.stderr)
    runs = [run_cli("trino_full", home, orders_url, payments_url, as_of(3), full=True, extra_env=env)]
    if runs[0]["success"]:
        runs.append(run_cli("trino_no_change", home, orders_url, payments_url, as_of(4), False, env))
        changed = change_one_percent(orders_url, payments_url, datetime.now(UTC))
        runs.append(run_cli("trino_changed_1pct", home, orders_url, payments_url, as_of(5), False, env))
        runs[-1]["changes"] = changed
        check = run_cli("duckdb_check", size_dir / "home", orders_url, payments_url, as_of(5), False)
        runs[-1]["counts_match_duckdb"] = check["success"] and check["counts"] == runs[-1]["counts"]
    return runs


def _by_size(sizes: list[dict], n: int) -> dict | None:
    return next((s for s in sizes if s["orders"] == n), None)


def _run(size: dict | None, name: str) -> dict | None:
    if not size:
        return None
    r = next((r for r in size["runs"] if r["run"] == name), None)
    return r if r and r["success"] else None


def targets(sizes: list[dict]) -> list[dict]:
    m, k20, big = _by_size(sizes, 1_000_000), _by_size(sizes, 20_000), _by_size(sizes, 10_000_000)
    out = []

    def target(name: str, value: float | None, limit: float, unit: str = "×") -> None:
        out.append(
            {
                "target": name,
                "value": None if value is None else round(value, 3),
                "limit": limit,
                "unit": unit,
                "status": "n/a" if value is None else ("PASS" if value <= limit else "MISS"),
            }
        )

    full_1m = _run(m, "full")
    raw_1m = (m or {}).get("raw_limit", {}).get("total_s")
    target("1M full / raw limit", full_1m["wall_s"] / raw_1m if full_1m and raw_1m else None, 8)
    nc = _run(m, "no_change")
    target("1M no-change / 1M full", nc["wall_s"] / full_1m["wall_s"] if nc and full_1m else None, 0.2)
    ch = _run(m, "changed_1pct")
    target("1M 1%-changed / 1M full", ch["wall_s"] / full_1m["wall_s"] if ch and full_1m else None, 0.3)
    nc_big, nc_small = _run(big, "no_change"), _run(k20, "no_change")
    target(
        "10M no-change / 20k no-change",
        nc_big["wall_s"] / nc_small["wall_s"] if nc_big and nc_small else None,
        1.5,
    )
    full_big = _run(big, "full")
    target("10M full wall", full_big["wall_s"] if full_big else None, 240, "s")
    target("10M full peak RSS", full_big["peak_rss_mb"] if full_big else None, TARGET_SLOW_RSS_MB, "MB")
    trino = {r["run"]: r for r in (m or {}).get("trino_runs", []) if r["success"]}
    t_full, t_nc = trino.get("trino_full"), trino.get("trino_no_change")
    if m and m.get("trino_runs"):
        target(
            "Trino 1M full / DuckDB 1M full",
            t_full["wall_s"] / full_1m["wall_s"] if t_full and full_1m else None,
            3,
        )
        target(
            "Trino 1M no-change / Trino full",
            t_nc["wall_s"] / t_full["wall_s"] if t_nc and t_full else None,
            0.3,
        )
        peak = max((r["peak_rss_mb"] for r in trino.values()), default=None)
        target("Trino 1M platform peak RSS", peak, 1536, "MB")
    return out


RUN_TABLE = Table(
    [Column("run", 14, left=True), Column("wall s", 9, ".1f"), Column("peak MB", 9), Column("", 2)]
    + [Column(stage, 10, ".1f") for stage in (*STAGES, "startup")]
    + [Column("", 2)]
)


def _run_line(r: dict) -> str:
    """One run of the table: wall, peak RSS, the stages, the outcome (and, for Trino's changed run,
    whether its counts equal DuckDB's)."""
    st = r.get("stages", {})
    outcome = "ok " + str(r.get("verdict")) if r["success"] else "FAILED: " + str(r.get("cause"))
    match = f"  counts = DuckDB's: {r['counts_match_duckdb']}" if "counts_match_duckdb" in r else ""
    cells = [r["run"], r["wall_s"], r["peak_rss_mb"], ""] + [st.get(k) for k in (*STAGES, "startup")] + [""]
    return RUN_TABLE.row(cells) + outcome + match


def report_real(result: dict) -> str:
    lines = [
        f"\nfinance-recon run, end to end — {result['machine']['when']}, git {result['git_head'][:10]} "
        f"(+{result['git_dirty_files']} uncommitted files), {result['machine']['cpus']} CPUs / "
        f"{result['machine']['mem_gb']} GB",
    ]
    for size in result["sizes"]:
        lines += [
            "",
            f"{size['orders']:,} orders + {size['payments']:,} payments (seed {size['seed_s']} s, not timed); "
            f"loadavg before {size['loadavg_before']} | after {size['loadavg_after']}",
            RUN_TABLE.header() + "result",
        ]
        lines += [_run_line(r) for r in size["runs"]]
        raw = size.get("raw_limit") or {}
        if "legs" in raw:
            legs = ", ".join(f"{k} {v:.1f}" for k, v in raw["legs"].items())
            lines.append(f"{'raw limit':<14}{raw['total_s']:>9.1f}{'':>9}  {legs}")
        elif raw:
            lines.append(f"raw limit: {raw.get('error')}")
        lines += [_run_line(r) for r in size.get("trino_runs", [])]
        lines.append(
            f"counts: full run vs hand-written query {'same' if size['counts_match_raw'] else 'DIFFERENT'}; "
            f"no-change rerun vs full {'same' if size['no_change_counts_same'] else 'DIFFERENT'}; "
            f"1%-changed rerun vs the query on its landing "
            f"{'same' if size.get('changed_counts_match_raw') else 'DIFFERENT'}"
        )
    lines += ["", "targets"]
    for t in result["targets"]:
        value = "-" if t["value"] is None else f"{t['value']}{t['unit'] if t['unit'] != '×' else '×'}"
        lines.append(f"  {t['target']:<32}{value:>12}  ≤ {t['limit']}{t['unit']}  {t['status']}")
    return "\n".join(lines)


def measure(args) -> int:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    result = {
        "kind": "finance-recon run end to end",
        **git_state(),
        "loadavg_start": loadavg(),
        "sizes": [],
    }
    ok = True
    for n in args.orders or [1_000_000]:
        print(f"{n:,} orders", file=sys.stderr)
        engines = ("duckdb", "trino") if args.target == "trino" else ("duckdb",)
        size = measure_size(n, work / "real", db_prefix=args.db_prefix, engines=engines)
        ok &= all(r["success"] for r in size["runs"]) and len(size["runs"]) == len(RUNS)
        ok &= size["counts_match_raw"] and size["no_change_counts_same"] and size["changed_counts_match_raw"]
        if args.target == "trino":
            trino = size["trino_runs"]
            ok &= len(trino) == len(RUNS) and all(r["success"] for r in trino)
            ok &= bool(trino) and bool(trino[-1].get("counts_match_duckdb"))
        result["sizes"].append(size)
    result["loadavg_end"] = loadavg()
    result["machine"] = machine() | {"when": started.isoformat(timespec="seconds")}
    result["targets"] = targets(result["sizes"])
    result["ok"] = ok
    print(report_real(result))
    write_json(result, Path(args.json) if args.json else work / f"e2e-{started:%Y%m%dT%H%M%SZ}.json")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--orders", type=int, action="append", help="orders per run (repeatable); default 1000000"
    )
    parser.add_argument("--work", default=str(REPO / ".finance_recon" / "bench-e2e"))
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--db-prefix", default="fr_e2e", help="bench database name prefix (<prefix>_<N> on both servers)"
    )
    parser.add_argument(
        "--target",
        choices=("duckdb", "trino"),
        default="duckdb",
        help="trino: also the three runs on FINANCE_RECON_WAREHOUSE_TARGET=trino (make services first)",
    )
    parser.add_argument(
        "--paths",
        default=REAL,
        help=f"`{REAL}` (default): this benchmark; anything else is the in-process comparison, "
        "handed to `python -m bench.paths` with these arguments",
    )
    parser.add_argument("--dbt", help=argparse.SUPPRESS)  # bench.paths' own, passed through
    args = parser.parse_args(argv)
    if args.paths != REAL:
        from bench import paths

        return paths.main(argv)
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
