"""Benchmark baseline only: contracts §2 as ONE hand-written DuckDB query (not part of the platform).

The rules live in the dbt models; this query re-implements them solely so `bench.reconcile` can
measure the practical limit of the engine on the same landed data (`landing.orders`,
`landing.payments`) and cross-check the category counts. It computes the same per-item output as
`fct_reconciliation_items` (key, break_id, amounts, age bucket, category) in one statement, with
exact DECIMAL money throughout.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TOLERANCE = re.compile(r"^\d{1,12}(\.\d{1,6})?$")


def _as_of_literal(as_of: datetime | str) -> str:
    if isinstance(as_of, str):
        as_of = datetime.fromisoformat(as_of)
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return f"TIMESTAMPTZ '{as_of.astimezone(UTC).isoformat()}'"


def items_sql(
    as_of: datetime | str, tolerance: str = "0.00", grace_minutes: int = 60, schema: str = "landing"
) -> str:
    """The single query: one row per reconciliation item with its category (contracts §2)."""
    if not _TOLERANCE.match(str(tolerance)):
        raise ValueError(f"tolerance must be a non-negative decimal string, got {tolerance!r}")
    ts = _as_of_literal(as_of)
    tau = f"CAST('{tolerance}' AS DECIMAL(18, 6))"
    grace_start = f"({ts} - to_minutes({int(grace_minutes)}))"
    return f"""
WITH orders AS (
    SELECT order_id, status, currency, total_amount, created_at
    FROM {schema}.orders
    WHERE created_at <= {ts}
),
payments AS (
    SELECT payment_id, order_id, kind, currency, amount, created_at
    FROM {schema}.payments
    WHERE created_at <= {ts} AND status = 'succeeded'
),
per_order AS (
    SELECT
        p.order_id,
        sum(CASE WHEN p.currency = o.currency AND p.kind = 'charge' THEN p.amount ELSE 0 END) AS captured,
        sum(CASE WHEN p.currency = o.currency AND p.kind IN ('refund', 'chargeback') THEN p.amount ELSE 0 END) AS reversed,
        count(*) FILTER (WHERE p.kind = 'charge') AS n_charges,
        bool_or(p.currency <> o.currency) AS foreign_currency
    FROM payments p
    JOIN orders o ON o.order_id = p.order_id
    GROUP BY p.order_id
),
order_items AS (
    SELECT
        'order:' || o.order_id AS item_key,
        o.currency,
        o.status,
        CASE WHEN o.status IN ('paid', 'shipped', 'delivered') THEN o.total_amount ELSE 0 END AS expected,
        coalesce(a.captured, 0) AS captured,
        coalesce(a.captured, 0) - coalesce(a.reversed, 0) AS net,
        coalesce(a.n_charges, 0) AS n_charges,
        coalesce(a.foreign_currency, false) AS foreign_currency,
        o.created_at,
        o.created_at >= {grace_start} AS young
    FROM orders o
    LEFT JOIN per_order a ON a.order_id = o.order_id
),
items AS (
    SELECT
        item_key, currency, expected, net, created_at,
        CASE
            WHEN foreign_currency THEN 'currency_mismatch'
            WHEN status = 'pending' THEN CASE
                WHEN net = 0 THEN 'open'
                WHEN net > 0 AND young THEN 'in_flight'
                ELSE 'order_status_lag' END
            WHEN status IN ('paid', 'shipped', 'delivered') THEN CASE
                WHEN abs(net - expected) <= {tau} THEN 'matched'
                WHEN captured = 0 AND young THEN 'in_flight'
                WHEN captured = 0 THEN 'missing_payment'
                WHEN net < expected - {tau} THEN 'underpaid'
                WHEN n_charges >= 2 THEN 'duplicate_charge'
                ELSE 'overpaid' END
            WHEN status IN ('cancelled', 'refunded') THEN CASE
                WHEN abs(net) <= {tau} THEN 'matched'
                WHEN net > {tau} THEN 'refund_due'
                ELSE 'over_refunded' END
        END AS category
    FROM order_items
    UNION ALL
    SELECT
        'payment:' || p.payment_id,
        p.currency,
        0,
        CASE WHEN p.kind = 'charge' THEN p.amount ELSE -p.amount END,
        p.created_at,
        CASE WHEN p.created_at >= {grace_start} THEN 'in_flight' ELSE 'orphan_payment' END
    FROM payments p
    WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = p.order_id)
)
SELECT
    item_key,
    md5(item_key) AS break_id,
    currency,
    CAST(expected AS DECIMAL(38, 2)) AS expected,
    CAST(net AS DECIMAL(38, 2)) AS net,
    CAST(net - expected AS DECIMAL(38, 2)) AS difference,
    CASE
        WHEN date_sub('minute', created_at, {ts}) < 2 * 1440 THEN '0-1d'
        WHEN date_sub('minute', created_at, {ts}) < 8 * 1440 THEN '2-7d'
        WHEN date_sub('minute', created_at, {ts}) < 31 * 1440 THEN '8-30d'
        ELSE '>30d'
    END AS age_bucket,
    category,
    category NOT IN ('matched', 'open', 'in_flight') AS is_break
FROM items
"""


def counts_sql(
    as_of: datetime | str, tolerance: str = "0.00", grace_minutes: int = 60, schema: str = "landing"
) -> str:
    """Category counts straight from the query (DuckDB prunes the columns the counts do not need)."""
    return (
        f"SELECT category, count(*) AS n FROM ({items_sql(as_of, tolerance, grace_minutes, schema)}) "
        "GROUP BY category ORDER BY category"
    )


def reconcile_counts(
    conn, as_of: datetime | str, tolerance: str = "0.00", grace_minutes: int = 60
) -> dict[str, int]:
    """Category → number of items, from the single query on an open DuckDB connection."""
    return {c: int(n) for c, n in conn.execute(counts_sql(as_of, tolerance, grace_minutes)).fetchall()}


def materialize(
    conn, table: str, as_of: datetime | str, tolerance: str = "0.00", grace_minutes: int = 60
) -> dict[str, int]:
    """Write the per-item result to `table` (as the platform writes `fct_reconciliation_items`), then count."""
    conn.execute(f"CREATE OR REPLACE TABLE {table} AS {items_sql(as_of, tolerance, grace_minutes)}")
    rows = conn.execute(
        f"SELECT category, count(*) FROM {table} GROUP BY category ORDER BY category"
    ).fetchall()
    return {c: int(n) for c, n in rows}
