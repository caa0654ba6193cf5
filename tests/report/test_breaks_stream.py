"""The breaks of a run stay in the warehouse connection and are streamed to breaks.csv/.parquet in
fixed-size batches: the lifecycle against the previous run's Parquet (read by DuckDB, an older
file's missing columns as NULL), report order, the same bytes on a rerun, the CSV as a whole-table
write gives it, and Arrow memory bounded by a batch however many breaks there are."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from finance_recon.report import render
from finance_recon.report.breaks import BREAKS_SCHEMA, stage_breaks

AS_OF = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def _items(conn, n: int, break_every: int = 1) -> str:
    """`n` items as fct_reconciliation_items presents them; every `break_every`-th one a break."""
    conn.execute(
        f"""
        create or replace table items as
        select md5('order:' || i) as break_id, 'order:' || i as item_key, 'order' as item_type,
               i::bigint as order_id, null::varchar as payment_id, (1000 + i % 97)::bigint as customer_id,
               'paid' as order_status,
               case when i % {break_every} = 0 then 'underpaid' else 'matched' end as category,
               i % {break_every} = 0 as is_break, false as is_synthetic,
               timestamptz '2026-11-19 10:00:00+00' + to_seconds(i) as created_at, '0-1d' as age_bucket,
               case i % 3 when 0 then 'USD' when 1 then 'EUR' else 'JPY' end as currency,
               100.00::decimal(18,2) as expected, (100 - (i % 500) / 100)::decimal(18,2) as net,
               (-(i % 500) / 100)::decimal(18,2) as difference,
               (100 - (i % 500) / 100)::decimal(18,2) as captured, 0.00::decimal(18,2) as reversed,
               1::bigint as n_charges, 'pay_' || i as payment_ids, 'USD' as payment_currencies,
               'stripe' as providers
        from range(1, {n + 1}) t(i)
        """
    )
    return "items"


def _whole_table_csv(table: pa.Table) -> bytes:
    """What the report wrote before it streamed: one write of the whole table."""
    batch = render._csv_batch(table.combine_chunks().to_batches()[0]) if table.num_rows else None
    sink = io.BytesIO()
    if batch is None:
        pacsv.write_csv(
            render._csv_schema(table.schema).empty_table(), sink, pacsv.WriteOptions(quoting_style="needed")
        )
    else:
        pacsv.write_csv(pa.Table.from_batches([batch]), sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()


def test_breaks_stream_in_report_order_and_fixed_batches(tmp_path):
    conn = duckdb.connect()
    staged = stage_breaks(conn, _items(conn, 1000, break_every=3), None, AS_OF)
    assert staged.count() == 333 and staged.lifecycle_counts() == {"new": 333, "persisting": 0, "resolved": 0}
    batches = list(staged.batches(rows=50))
    assert [b.num_rows for b in batches] == [50] * 6 + [33]
    assert all(b.schema == BREAKS_SCHEMA for b in batches)
    table = pa.Table.from_batches(batches)
    keys = [
        (-abs(d), b)
        for d, b in zip(table["difference"].to_pylist(), table["break_id"].to_pylist(), strict=True)
    ]
    assert keys == sorted(keys)  # largest |difference| first, then break_id

    csv, parquet = render.write_breaks(staged.batches(rows=50), BREAKS_SCHEMA, tmp_path)
    assert csv.rows == parquet.rows == 333
    assert csv.path.read_bytes() == _whole_table_csv(table)  # streaming changed no byte of the CSV
    assert (
        csv.path.read_bytes().splitlines()[0].decode().count("_utc") == 2
    )  # created_at_utc, first_seen_at_utc
    written = pq.read_table(parquet.path)
    assert written.equals(table) and pq.ParquetFile(parquet.path).num_row_groups == 7

    again = tmp_path / "again"
    again.mkdir()
    csv2, parquet2 = render.write_breaks(
        stage_breaks(conn, "items", None, AS_OF).batches(rows=50), BREAKS_SCHEMA, again
    )
    for first, second in ((csv, csv2), (parquet, parquet2)):
        assert (
            hashlib.sha256(first.path.read_bytes()).digest()
            == hashlib.sha256(second.path.read_bytes()).digest()
        )


def test_no_breaks_give_a_header_and_an_empty_parquet(tmp_path):
    conn = duckdb.connect()
    staged = stage_breaks(conn, _items(conn, 10, break_every=1000), None, AS_OF)
    csv, parquet = render.write_breaks(staged.batches(), BREAKS_SCHEMA, tmp_path)
    assert csv.rows == 0 and csv.path.read_bytes() == _whole_table_csv(BREAKS_SCHEMA.empty_table())
    assert pq.read_table(parquet.path).num_rows == 0 and pq.read_schema(parquet.path) == BREAKS_SCHEMA


def test_lifecycle_against_an_older_runs_parquet_without_the_evidence_columns(tmp_path):
    conn = duckdb.connect()
    items = _items(conn, 30, break_every=2)  # breaks: the 15 even items
    first = stage_breaks(conn, items, None, EARLIER)
    old = pa.Table.from_batches(list(first.batches())).drop_columns(
        ["providers", "payment_currencies", "customer_id"]
    )
    previous = tmp_path / "previous.parquet"
    pq.write_table(old, previous)  # as a release before the evidence columns wrote it
    # Now items 2 and 4 are settled, item 3 is a new break.
    conn.execute("update items set category = 'matched', is_break = false where order_id in (2, 4)")
    conn.execute("update items set category = 'overpaid', is_break = true where order_id = 3")
    staged = stage_breaks(conn, items, previous, AS_OF)
    assert staged.lifecycle_counts() == {"new": 1, "persisting": 13, "resolved": 2}
    rows = {r["order_id"]: r for r in pa.Table.from_batches(list(staged.batches())).to_pylist()}
    assert rows[3]["lifecycle"] == "new" and rows[3]["first_seen_at"] == AS_OF
    assert rows[6]["lifecycle"] == "persisting" and rows[6]["first_seen_at"] == EARLIER
    assert rows[2]["lifecycle"] == "resolved" and rows[2]["category"] == "matched"
    assert (
        rows[2]["previous_category"] == "underpaid" and rows[2]["providers"] == "stripe"
    )  # from the item now


def test_arrow_memory_is_bounded_by_a_batch_not_the_number_of_breaks(tmp_path):
    conn = duckdb.connect()
    staged = stage_breaks(conn, _items(conn, 300_000), None, AS_OF)
    full_table_bytes = staged.largest(300_000).nbytes  # what holding every break would take
    peak = 0

    def watched(batches):
        nonlocal peak
        for batch in batches:
            peak = max(peak, pa.total_allocated_bytes())
            yield batch

    baseline = pa.total_allocated_bytes()
    csv, _ = render.write_breaks(watched(staged.batches()), BREAKS_SCHEMA, tmp_path)
    assert csv.rows == 300_000
    assert peak - baseline < full_table_bytes / 4, (peak - baseline, full_table_bytes)
