"""Breaks of one run with their lifecycle against the previous published run (contracts §2).

The categories come from dbt (`fct_reconciliation_items`); this module only compares two published
states: `new` (not a break before), `persisting` (a break before and now), `resolved` (a break before,
not now — shown with its current category). `first_seen_at` is the `as_of` of the first run that saw it.

The breaks never come into Python memory as a whole (a 10M-order shop has hundreds of thousands):
they are staged as a temporary table on the report's warehouse connection (`stage_breaks`; DuckDB
spills beyond its memory limit), the previous run's breaks are read from their Parquet file by
DuckDB, and everything the report needs is asked of the staged table — counts, the largest breaks
per category, and the rows themselves in fixed-size batches for the CSV/Parquet writers
(`StagedBreaks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from finance_recon.contracts import UTC_TS

AMOUNT = pa.decimal128(38, 2)
LIFECYCLES = ("new", "persisting", "resolved")

BREAKS_SCHEMA = pa.schema(
    [
        ("break_id", pa.string()),
        ("item_key", pa.string()),
        ("item_type", pa.string()),
        ("order_id", pa.int64()),
        ("payment_id", pa.string()),
        ("customer_id", pa.int64()),
        ("order_status", pa.string()),
        ("category", pa.string()),
        ("previous_category", pa.string()),
        ("lifecycle", pa.string()),
        ("first_seen_at", UTC_TS),
        ("created_at", UTC_TS),
        ("age_bucket", pa.string()),
        ("currency", pa.string()),
        ("expected", AMOUNT),
        ("net", AMOUNT),
        ("difference", AMOUNT),
        # evidence (computed by dbt, fct_reconciliation_items): what the break is worked from
        ("captured", AMOUNT),
        ("reversed", AMOUNT),
        ("n_charges", pa.int64()),
        ("payment_ids", pa.string()),
        ("payment_currencies", pa.string()),
        ("providers", pa.string()),
    ]
)

_ITEM_COLUMNS = (
    "break_id",
    "item_key",
    "item_type",
    "order_id",
    "payment_id",
    "customer_id",
    "order_status",
    "created_at",
    "age_bucket",
    "currency",
    "expected",
    "net",
    "difference",
    "captured",
    "reversed",
    "n_charges",
    "payment_ids",
    "payment_currencies",
    "providers",
)

_LIFECYCLE_SQL = """
with current_breaks as (
    -- correctness-prober items are never Finance's breaks (finance_recon/probe/)
    select * from {items} where is_break and not is_synthetic
),
previous_active as (
    select * from previous_breaks where lifecycle <> 'resolved'
),
open_breaks as (
    select {cur_cols},
           c.category,
           p.category as previous_category,
           case when p.break_id is null then 'new' else 'persisting' end as lifecycle,
           coalesce(p.first_seen_at, $as_of) as first_seen_at
    from current_breaks c
    left join previous_active p on p.break_id = c.break_id
),
resolved_ids as (
    select p.break_id from previous_active p
    where not exists (select 1 from current_breaks c where c.break_id = p.break_id)
),
resolved_breaks as (
    select {res_cols},
           coalesce(i.category, p.category) as category,
           p.category as previous_category,
           'resolved' as lifecycle,
           p.first_seen_at
    from previous_active p
    -- only the items of the resolved breaks, found first (typically a few): looking up the items
    -- of every previous break read every item of the view (10M items, 800k breaks: ~2 s)
    left join (select * from {items} where break_id in (select break_id from resolved_ids)) i
        on i.break_id = p.break_id
    where p.break_id in (select break_id from resolved_ids)
)
select {out_cols} from (select * from open_breaks union all select * from resolved_breaks)
"""


STAGED_BREAKS = "report_breaks"
_PREVIOUS = "previous_breaks"
# Rows per batch handed to the writers: every batch but the last has exactly this many rows, so a
# rerun writes the same Parquet row groups and the same bytes.
BATCH_ROWS = 65_536
# The report's order of breaks; the staged table has none, every read asks for it.
REPORT_ORDER = "abs(difference) desc, break_id"


def _duckdb_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ"
    if pa.types.is_int64(arrow_type):
        return "BIGINT"
    return "VARCHAR"


def _previous_relation(conn, previous_file: Path | None) -> None:
    """`previous_breaks`: the previous run's breaks.parquet as DuckDB reads it (never loaded into
    Python), or no rows. A run published before a column existed: that column is NULL."""
    if previous_file is None:
        columns = ", ".join(f"NULL::{_duckdb_type(f.type)} AS {f.name}" for f in BREAKS_SCHEMA)
        conn.execute(f"CREATE OR REPLACE TEMP VIEW {_PREVIOUS} AS SELECT {columns} WHERE false")
        return
    import pyarrow.parquet as pq

    present = set(pq.read_schema(previous_file).names)
    columns = ", ".join(
        f.name if f.name in present else f"NULL::{_duckdb_type(f.type)} AS {f.name}" for f in BREAKS_SCHEMA
    )
    path = str(previous_file).replace("'", "''")
    conn.execute(f"CREATE OR REPLACE TEMP VIEW {_PREVIOUS} AS SELECT {columns} FROM read_parquet('{path}')")


@dataclass(frozen=True)
class BreakGroup:
    """One category's open breaks (or the resolved ones): how many, Σ|difference| per currency,
    and the largest of them."""

    category: str
    count: int
    amounts: list[tuple[str, str]]  # (currency, Σ|difference| as a decimal string), by currency
    rows: list[dict[str, Any]]  # the largest by |difference|, then break_id


class StagedBreaks:
    """The run's breaks as a relation on the report's warehouse connection (`stage_breaks`), or any
    relation with `BREAKS_SCHEMA`'s columns (tests register an Arrow table)."""

    def __init__(self, conn, relation: str = STAGED_BREAKS):
        self.conn = conn
        self.relation = relation

    def count(self) -> int:
        return self.conn.execute(f"select count(*) from {self.relation}").fetchone()[0]

    def lifecycle_counts(self) -> dict[str, int]:
        found = dict(
            self.conn.execute(f"select lifecycle, count(*) from {self.relation} group by 1").fetchall()
        )
        return {name: int(found.get(name, 0)) for name in LIFECYCLES}

    def largest(self, limit: int, where: str = "true") -> pa.Table:
        sql = f"select {', '.join(BREAKS_SCHEMA.names)} from {self.relation} where {where} order by {REPORT_ORDER} limit {int(limit)}"
        return self.conn.execute(sql).fetch_arrow_table().cast(BREAKS_SCHEMA)

    def groups(self, per_group: int) -> tuple[list[BreakGroup], BreakGroup | None]:
        """Open breaks by category in rule order, then the breaks resolved since the previous run."""
        from finance_recon.contracts import BREAK_CATEGORIES

        sums: dict[str, list[tuple[str, str]]] = {}
        counts: dict[str, int] = {}
        for group, currency, n, amount in self.conn.execute(
            f"""select case when lifecycle = 'resolved' then 'resolved' else category end as grp,
                       currency, count(*), sum(abs(difference))
                from {self.relation} group by all order by grp, currency nulls last"""
        ).fetchall():
            counts[group] = counts.get(group, 0) + int(n)
            sums.setdefault(group, []).append((currency or "—", str(amount)))

        def group(name: str, where: str) -> BreakGroup:
            return BreakGroup(name, counts[name], sums[name], self.largest(per_group, where).to_pylist())

        open_groups = [
            group(c, f"lifecycle <> 'resolved' and category = '{c}'") for c in BREAK_CATEGORIES if c in counts
        ]
        resolved = group("resolved", "lifecycle = 'resolved'") if "resolved" in counts else None
        return open_groups, resolved

    def same_as_previous(self) -> bool:
        """Whether these breaks are, row for row over `BREAKS_SCHEMA`'s columns, the previous run's
        breaks.parquet (`previous_breaks`, set up by `stage_breaks`). Asked inside DuckDB: neither
        side comes into Python.

        Exact, by `break_id`: both sides hold n rows with n distinct ids, and n rows of one side
        equal (NULL-safe, every column) the row with their id on the other, so the two are the
        same set. A join on one key: `EXCEPT ALL` over all 23 columns took 19 s at 1M breaks, this
        ~5 s (docs/benchmarks.md, Publishing)."""
        same_columns = " and ".join(
            f"here.{c} is not distinct from there.{c}" for c in BREAKS_SCHEMA.names if c != "break_id"
        )
        here, there, here_ids, there_ids, equal = self.conn.execute(
            f"""select (select count(*) from {self.relation}),
                       (select count(*) from {_PREVIOUS}),
                       (select count(distinct break_id) from {self.relation}),
                       (select count(distinct break_id) from {_PREVIOUS}),
                       (select count(*) from {self.relation} here join {_PREVIOUS} there using (break_id)
                        where {same_columns})"""
        ).fetchone()
        return here == there == here_ids == there_ids == equal

    def batches(self, rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Every break in report order, as `BREAKS_SCHEMA` batches of exactly `rows` rows (the last
        may be shorter): memory is bounded by one batch whatever the number of breaks."""
        reader = self.conn.execute(
            f"select {', '.join(BREAKS_SCHEMA.names)} from {self.relation} order by {REPORT_ORDER}"
        ).fetch_record_batch(rows)
        pending: list[pa.RecordBatch] = []
        held = 0
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            while held >= rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, rows).combine_chunks().to_batches()[0].cast(BREAKS_SCHEMA)
                rest = table.slice(rows)
                pending, held = rest.to_batches(), rest.num_rows
        if held:
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0].cast(BREAKS_SCHEMA)


def stage_breaks(conn, items_relation: str, previous_file: Path | None, as_of: datetime) -> StagedBreaks:
    """Compare with the previous run inside the warehouse connection: the breaks become the temporary
    table `report_breaks` of that connection (it lives as long as the connection)."""
    _previous_relation(conn, previous_file)
    sql = _LIFECYCLE_SQL.format(
        items=items_relation,
        cur_cols=", ".join(f"c.{c}" for c in _ITEM_COLUMNS),
        res_cols=", ".join(f"coalesce(i.{c}, p.{c}) as {c}" for c in _ITEM_COLUMNS),
        out_cols=", ".join(BREAKS_SCHEMA.names),
    )
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {STAGED_BREAKS} AS {sql}", {"as_of": as_of})
    return StagedBreaks(conn)
