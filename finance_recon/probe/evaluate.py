"""The manifest's `probe` section: what this run's synthetic items were expected to be, and were.

    {"cycle": 7, "success": true,
     "items": [{"probe": "matched", "order_id": 9000000000000014, "payment_id": "probe-7-matched",
                "expected_category": "matched", "actual_category": "matched", "success": true}, …],
     "errors": []}

`actual_category` is what dbt put in `fct_reconciliation_items` for the order (null when the order
never reached it). The probe succeeds when every item has its expected category and no write was
refused. None when the prober did not run for this run (the section is then left out).
"""

from __future__ import annotations

from typing import Any

from finance_recon.contracts import ORDERS, PAYMENTS, PROBE_ORDER_ID_MIN, PROBE_PAYMENT_ID_PREFIX
from finance_recon.probe.control import run_probe
from finance_recon.sources.landing import sql_literal


def real_rows(table: str) -> str:
    """SQL predicate on a landing table (`orders` / `payments`): the row is not a probe row. The
    report's source freshness uses it, so the prober's rows never show as the sources' newest data."""
    if table == ORDERS.asset_name:
        return f"order_id < {PROBE_ORDER_ID_MIN}"
    if table == PAYMENTS.asset_name:
        return f"payment_id NOT LIKE '{PROBE_PAYMENT_ID_PREFIX}%'"
    raise ValueError(f"no contract table {table!r}")


def probe_section(conn, run_id: str, items_relation: str) -> dict[str, Any] | None:
    items, errors = run_probe(conn, run_id)
    if not items:
        return None
    keys = ", ".join(sql_literal(i.item_key) for i in items)
    actual = dict(
        conn.execute(f"SELECT item_key, category FROM {items_relation} WHERE item_key IN ({keys})").fetchall()
    )
    rows = [
        {
            "probe": item.probe,
            "order_id": item.order_id,
            "payment_id": item.payment_id,
            "currency": item.currency,
            "order_amount": str(item.order_amount),
            "payment_amount": str(item.payment_amount),
            "expected_category": item.expected_category,
            "actual_category": actual.get(item.item_key),
            "success": actual.get(item.item_key) == item.expected_category,
        }
        for item in items
    ]
    return {
        "cycle": items[0].cycle,
        "success": not errors and all(r["success"] for r in rows),
        "items": rows,
        "errors": errors,
    }
