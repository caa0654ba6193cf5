"""Publishing benchmark: the report's breaks streamed to CSV/Parquet vs held whole in memory, same run.

    python -m bench.publish --breaks 1000000 [--breaks 3000000]

Builds a warehouse file with `fct_reconciliation_items`-shaped items (all of them breaks, the worst
case of a 10M-order shop with ~900k breaks), then, each in its own subprocess so that peak RSS is its
own:

  streamed      what the report asset does (`finance_recon.report.breaks.stage_breaks` → the DuckDB
                temporary table → `render.write_breaks`, one fixed-size batch at a time)
  whole table   the previous release's way, kept here only as the baseline: the lifecycle query's
                result fetched as one Arrow table, then written whole (`pyarrow.csv.write_csv`,
                `pyarrow.parquet.write_table`)

Both start from an earlier run's breaks.parquet of the same size (the lifecycle is compared with
it), and both files must come out with the same rows. Prints wall time, peak RSS, the ratio of the
two and the load average before and after. Figures: docs/benchmarks.md, section Publishing.

    python -m bench.publish --republish --breaks 1000000

The no-change republish (issue 27): a folder store holds a published run whose breaks are exactly
what the next run stages (all persisting), then the next run is published twice, end to end (the
previous breaks.parquet read from the store, staging, the breaks files, publish):

  republish_rewrite   the breaks rendered and written again (what every run did before)
  republish_reuse     what the report asset does now: compared in DuckDB, found unchanged, the
                      manifest references the previous files (`finance_recon.report.reuse`)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Column, Table, loadavg, machine, own_peak_rss_mb, run_child, spawn, write_json

AS_OF = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def _items_sql(n: int) -> str:
    return f"""
    create or replace table fct_reconciliation_items as
    select md5('order:' || i) as break_id, 'order:' || i as item_key, 'order' as item_type,
           i::bigint as order_id, null::varchar as payment_id, (1000 + i % 997)::bigint as customer_id,
           'paid' as order_status,
           case i % 4 when 0 then 'underpaid' when 1 then 'duplicate_charge' when 2 then 'missing_payment'
                else 'refund_due' end as category,
           true as is_break, false as is_synthetic,
           timestamptz '2026-10-01 00:00:00+00' + to_seconds(i) as created_at, '8-30d' as age_bucket,
           case i % 3 when 0 then 'USD' when 1 then 'EUR' else 'JPY' end as currency,
           100.00::decimal(18,2) as expected, (100 - (i % 5000) / 100)::decimal(18,2) as net,
           (-(i % 5000) / 100)::decimal(18,2) as difference,
           (100 - (i % 5000) / 100)::decimal(18,2) as captured, 0.00::decimal(18,2) as reversed,
           (1 + i % 2)::bigint as n_charges, 'pay_' || i || ';pay_' || (i + 1) as payment_ids,
           'USD' as payment_currencies, 'adyen;stripe' as providers
    from range(1, {n + 1}) t(i)
    """


def prepare(folder: Path, n: int) -> None:
    """The items, and an earlier run's breaks.parquet (every other item a break then)."""
    from finance_recon.report import render
    from finance_recon.report.breaks import BREAKS_SCHEMA, stage_breaks
    from finance_recon.warehouse import connect

    conn = connect(folder / "warehouse.duckdb")
    conn.execute(_items_sql(n))
    conn.execute(
        "create or replace table earlier as select * from fct_reconciliation_items where order_id % 2 = 0"
    )
    staged = stage_breaks(conn, "earlier", None, EARLIER)
    previous = folder / "previous"
    previous.mkdir()
    render.write_breaks(staged.batches(), BREAKS_SCHEMA, previous)
    conn.close()


FIRST_SEEN = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def prepare_republish(folder: Path, n: int) -> None:
    """The items (all breaks), and a store holding the run of `EARLIER` whose breaks are what a run
    of `AS_OF` stages from them: every break persisting since `FIRST_SEEN`."""
    from finance_recon.report import render
    from finance_recon.report.breaks import BREAKS_SCHEMA, stage_breaks
    from finance_recon.report.publish import publish
    from finance_recon.report.store import LocalReportStore
    from finance_recon.warehouse import connect

    conn = connect(folder / "warehouse.duckdb")
    conn.execute(_items_sql(n))
    first, previous = folder / "first", folder / "previous"
    first.mkdir()
    previous.mkdir()
    staged = stage_breaks(conn, "fct_reconciliation_items", None, FIRST_SEEN)
    _, first_parquet = render.write_breaks(staged.batches(), BREAKS_SCHEMA, first)
    staged = stage_breaks(conn, "fct_reconciliation_items", first_parquet.path, EARLIER)
    files = render.write_breaks(staged.batches(), BREAKS_SCHEMA, previous)
    conn.close()
    publish(
        LocalReportStore(folder / "store"),
        run_id="previous",
        as_of=EARLIER,
        artifacts=list(files),
        manifest_fields={"breaks": n},
        run_ended_at=EARLIER,
        previous=None,
    )


def run_republish(method: str, folder: Path) -> dict:
    """One end-to-end publication of the `AS_OF` run into the store, its breaks rewritten or reused."""
    started = time.perf_counter()
    from finance_recon.report import render, reuse
    from finance_recon.report.breaks import BREAKS_SCHEMA, stage_breaks
    from finance_recon.report.history import previous_breaks_file, previous_run
    from finance_recon.report.publish import publish, run_prefix
    from finance_recon.report.store import LocalReportStore
    from finance_recon.settings import load_settings
    from finance_recon.warehouse import WarehouseResource

    store = LocalReportStore(folder / "store")
    scratch = folder / method
    scratch.mkdir()
    previous = previous_run(store, AS_OF)
    before = previous_breaks_file(store, previous, scratch)
    warehouse = WarehouseResource(
        path=str(folder / "warehouse.duckdb"), memory_limit=load_settings().warehouse_memory_limit
    )
    with warehouse.connection(read_only=True, spill_to=folder / "spill") as conn:
        staged = stage_breaks(conn, "fct_reconciliation_items", before, AS_OF)
        decided_at = time.perf_counter()
        reused = (
            reuse.decide(store, previous, before, staged) if method == "republish_reuse" else reuse.REWRITE
        )
        decide_s = time.perf_counter() - decided_at
        files = [] if reused.reused else list(render.write_breaks(staged.batches(), BREAKS_SCHEMA, scratch))
        rows = staged.count()
    publication = publish(
        store,
        run_id=method,
        as_of=AS_OF,
        artifacts=[*files, render.Artifact("summary.json", b"{}\n", "application/json")],
        manifest_fields={"breaks": rows},
        run_ended_at=AS_OF,
        previous=previous,
        reused=reused.entries,
    )
    prefix = run_prefix(AS_OF, method)
    written = sum((store.size(k) or 0) for k in store.list_keys(prefix) if not k.endswith("manifest.json"))
    return {
        "method": method,
        "rows": rows,
        "wall_s": round(time.perf_counter() - started, 2),
        "decide_s": round(decide_s, 2),
        "breaks_files": reused.describe(),
        "bytes_written": written,
        "breaks_sha256": [
            f["sha256"] for f in publication.manifest["files"] if f["name"].startswith("breaks.")
        ],
        "peak_rss_mb": round(own_peak_rss_mb()),
    }


def run_method(method: str, folder: Path) -> dict:
    if method.startswith("republish_"):
        return run_republish(method, folder)
    started = time.perf_counter()
    from finance_recon.report import render
    from finance_recon.report.breaks import _LIFECYCLE_SQL, BREAKS_SCHEMA, REPORT_ORDER, stage_breaks
    from finance_recon.settings import load_settings
    from finance_recon.warehouse import WarehouseResource, connect

    out = folder / method
    out.mkdir(exist_ok=True)
    previous = folder / "previous" / "breaks.parquet"
    if method == "streamed":
        # The report asset's connection: FINANCE_RECON_WAREHOUSE_MEMORY_LIMIT, spilling beyond it.
        warehouse = WarehouseResource(
            path=str(folder / "warehouse.duckdb"), memory_limit=load_settings().warehouse_memory_limit
        )
        with warehouse.connection(read_only=True, spill_to=folder / "spill") as conn:
            staged = stage_breaks(conn, "fct_reconciliation_items", previous, AS_OF)
            csv, _ = render.write_breaks(staged.batches(), BREAKS_SCHEMA, out)
        rows = csv.rows
    else:
        conn = connect(folder / "warehouse.duckdb", read_only=True)
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        from finance_recon.report.breaks import _ITEM_COLUMNS

        conn.register("previous_breaks", pq.read_table(previous))
        sql = _LIFECYCLE_SQL.format(
            items="fct_reconciliation_items",
            cur_cols=", ".join(f"c.{c}" for c in _ITEM_COLUMNS),
            res_cols=", ".join(f"coalesce(i.{c}, p.{c}) as {c}" for c in _ITEM_COLUMNS),
            out_cols=", ".join(BREAKS_SCHEMA.names),
        )
        table = (
            conn.execute(f"{sql} order by {REPORT_ORDER}", {"as_of": AS_OF})
            .fetch_arrow_table()
            .cast(BREAKS_SCHEMA)
        )
        batch = render._csv_batch(table.combine_chunks().to_batches()[0])
        pacsv.write_csv(
            pa.Table.from_batches([batch]),
            str(out / "breaks.csv"),
            pacsv.WriteOptions(quoting_style="needed"),
        )
        pq.write_table(table, str(out / "breaks.parquet"), compression="zstd", write_statistics=True)
        rows = table.num_rows
    return {
        "method": method,
        "rows": rows,
        "wall_s": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(own_peak_rss_mb()),
    }


REPORT = Table([Column("method", 12, left=True), Column("wall s", 9, ".2f"), Column("peak RSS MB", 13)], "  ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.publish", description=__doc__.splitlines()[0])
    parser.add_argument("--breaks", type=int, action="append", help="breaks per size (repeatable)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--republish", action="store_true", help="the no-change republish: rewrite vs reuse (issue 27)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prepare-republish", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(Path(args.folder), args.prepare)
        return 0
    if args.prepare_republish:
        prepare_republish(Path(args.folder), args.prepare_republish)
        return 0
    if args.republish:
        return republish_main(args)
    if args.child:
        print(json.dumps(run_method(args.child, Path(args.folder))))
        return 0
    failed = False
    sizes = []
    for n in args.breaks or [1_000_000]:
        with tempfile.TemporaryDirectory(prefix="bench-publish-") as scratch:
            folder = Path(scratch)
            measured = _prepare_and_measure("--prepare", n, folder, ("streamed", "whole_table"))
            if measured is None:
                return 1
            results, load_before, load_after = measured
            s, w = results["streamed"], results["whole_table"]
            if s["rows"] != w["rows"]:
                print(f"rows differ: streamed {s['rows']}, whole table {w['rows']}", file=sys.stderr)
                failed = True
            print(f"breaks {n:,} (rows written {s['rows']:,}); loadavg {load_before} -> {load_after}")
            print(REPORT.header())
            for r in (s, w):
                print(REPORT.row([r["method"], r["wall_s"], r["peak_rss_mb"]]))
            print(
                f"  streamed / whole table: wall {s['wall_s'] / w['wall_s']:.2f}x, "
                f"peak RSS {s['peak_rss_mb'] / w['peak_rss_mb']:.2f}x"
            )
            sizes.append({"breaks": n, "loadavg_before": load_before, "loadavg_after": load_after, **results})
    if args.json:
        write_json(
            {"kind": "publish", "machine": machine(), "sizes": sizes, "ok": not failed}, Path(args.json)
        )
    return 1 if failed else 0


def _prepare_and_measure(
    prepare_flag: str, n: int, folder: Path, methods: tuple[str, ...]
) -> tuple[dict, str, str] | None:
    """Prepare `n` breaks in `folder` (its own process), then run each method in a child: their
    results and the load average before and after; None (said on stderr) when a process failed."""
    # In its own process too: a child's peak RSS starts at its parent's (Linux keeps ru_maxrss across
    # fork and exec), so the parent stays small.
    prep = spawn([sys.executable, "-m", "bench.publish", prepare_flag, str(n), "--folder", str(folder)])
    if prep.returncode != 0:
        print(prep.stderr[-3000:], file=sys.stderr)
        return None
    load_before = loadavg()
    results = {}
    for method in methods:
        try:
            results[method], _ = run_child("bench.publish", [method, "--folder", str(folder)])
        except SystemExit as exc:
            print(exc, file=sys.stderr)
            return None
    return results, load_before, loadavg()


REPUBLISH = Table(
    [
        Column("method", 18, left=True),
        Column("wall s", 9, ".2f"),
        Column("decide s", 9, ".2f"),
        Column("MB written", 11, ".1f"),
        Column("peak RSS MB", 13),
    ],
    "  ",
)


def republish_main(args) -> int:
    """Rewrite vs reuse of unchanged breaks, each in its own subprocess, on one prepared store."""
    sizes = []
    failed = False
    for n in args.breaks or [1_000_000]:
        with tempfile.TemporaryDirectory(prefix="bench-republish-") as scratch:
            folder = Path(scratch)
            measured = _prepare_and_measure(
                "--prepare-republish", n, folder, ("republish_rewrite", "republish_reuse")
            )
            if measured is None:
                return 1
            results, load_before, load_after = measured
            rewrite, reused = results["republish_rewrite"], results["republish_reuse"]
            # Reuse is only equivalent when the rewrite would have produced the very same bytes.
            if reused["breaks_files"] != "reused from run previous" or (
                rewrite["breaks_sha256"] != reused["breaks_sha256"]
            ):
                print("the reuse run did not reference byte-identical files", file=sys.stderr)
                failed = True
            print(f"breaks {n:,} unchanged (rows {rewrite['rows']:,}); loadavg {load_before} -> {load_after}")
            print(REPUBLISH.header())
            for r in (rewrite, reused):
                print(
                    REPUBLISH.row(
                        [r["method"], r["wall_s"], r["decide_s"], r["bytes_written"] / 1e6, r["peak_rss_mb"]]
                    )
                )
            print(f"  reuse / rewrite: wall {reused['wall_s'] / rewrite['wall_s']:.2f}x")
            sizes.append({"breaks": n, "loadavg_before": load_before, "loadavg_after": load_after, **results})
    if args.json:
        write_json(
            {"kind": "republish", "machine": machine(), "sizes": sizes, "ok": not failed}, Path(args.json)
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
