"""Breaks of one run with their lifecycle against the previous published run (contracts §2).

The categories come from dbt (`fct_reconciliation_items`); this module only compares two published
states: `new` (not a break before), `persisting` (a break before and now), `resolved` (a break before,
not now — shown with its current category). `first_seen_at` is the `as_of` of the first run that saw it.
"""

from __future__ import annotations

from datetime import datetime

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
resolved_breaks as (
    select {res_cols},
           coalesce(i.category, p.category) as category,
           p.category as previous_category,
           'resolved' as lifecycle,
           p.first_seen_at
    from previous_active p
    -- only the items of previous breaks: a join to every item would read the whole view
    left join (select * from {items} where break_id in (select break_id from previous_active)) i
        on i.break_id = p.break_id
    where not exists (select 1 from current_breaks c where c.break_id = p.break_id)
)
select {out_cols} from (select * from open_breaks union all select * from resolved_breaks)
order by abs(difference) desc, break_id
"""


def build_breaks(conn, items_relation: str, previous: pa.Table, as_of: datetime) -> pa.Table:
    """Run the lifecycle comparison inside the warehouse connection; returns a `BREAKS_SCHEMA` table."""
    conn.register("previous_breaks", previous)
    try:
        sql = _LIFECYCLE_SQL.format(
            items=items_relation,
            cur_cols=", ".join(f"c.{c}" for c in _ITEM_COLUMNS),
            res_cols=", ".join(f"coalesce(i.{c}, p.{c}) as {c}" for c in _ITEM_COLUMNS),
            out_cols=", ".join(BREAKS_SCHEMA.names),
        )
        table = conn.execute(sql, {"as_of": as_of}).fetch_arrow_table()
    finally:
        conn.unregister("previous_breaks")
    return table.cast(BREAKS_SCHEMA)


def lifecycle_counts(breaks: pa.Table) -> dict[str, int]:
    values = breaks.column("lifecycle").to_pylist()
    return {name: values.count(name) for name in LIFECYCLES}
