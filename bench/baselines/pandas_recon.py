"""Benchmark baseline only: contracts §2 in plain pandas, as an analyst would write it (not part of the platform).

The rules live in the dbt models; this module re-implements them solely so `bench.reconcile` can
compare the platform against the usual notebook approach and cross-check the category counts.
It reads the landed tables whole (`SELECT *` into DataFrames), then filters, merges, groups and
classifies with vectorised pandas/numpy. Money is read as integer cents (the DECIMAL(18,2) is
scaled by 100 and cast to BIGINT in the read), so nothing passes through a float.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from math import floor

import numpy as np
import pandas as pd

PAID = ["paid", "shipped", "delivered"]
CLOSED = ["cancelled", "refunded"]


def load_landing(conn, schema: str = "landing") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both landed tables as DataFrames; money columns as int64 cents (exact), not float."""
    orders = conn.execute(
        f"SELECT * REPLACE (CAST(total_amount * 100 AS BIGINT) AS total_amount) FROM {schema}.orders"
    ).df()
    payments = conn.execute(
        f"SELECT * REPLACE (CAST(amount * 100 AS BIGINT) AS amount) FROM {schema}.payments"
    ).df()
    payments["order_id"] = payments["order_id"].astype("Int64")  # NULL order ids come back as float NaN
    return orders, payments


def reconcile_items(
    orders: pd.DataFrame,
    payments: pd.DataFrame,
    as_of: datetime | str,
    tolerance: str = "0.00",
    grace_minutes: int = 60,
) -> pd.DataFrame:
    """One row per reconciliation item: item_key, currency, expected/net/difference (cents), category."""
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of = as_of.tz_convert(UTC)
    grace_start = as_of - pd.Timedelta(minutes=grace_minutes)
    # τ in cents; amounts are whole cents, so |x| ≤ τ  ⇔  |x| ≤ floor(τ·100) for integer x.
    tau = floor(Decimal(str(tolerance)) * 100)

    orders = orders[orders["created_at"] <= as_of]
    payments = payments[(payments["created_at"] <= as_of) & (payments["status"] == "succeeded")]

    # Attach each payment's order currency; payments naming no considered order are unmatched.
    pays = payments.merge(
        orders[["order_id", "currency"]].rename(columns={"currency": "order_currency"}),
        on="order_id",
        how="left",
    )
    unmatched = pays["order_currency"].isna()
    matched = pays[~unmatched]
    same_ccy = matched["currency"] == matched["order_currency"]
    is_charge = matched["kind"] == "charge"
    per_payment = pd.DataFrame(
        {
            "order_id": matched["order_id"],
            "captured": np.where(same_ccy & is_charge, matched["amount"], 0),
            "reversed": np.where(
                same_ccy & matched["kind"].isin(["refund", "chargeback"]), matched["amount"], 0
            ),
            "n_charges": is_charge.astype("int64"),
            "foreign": ~same_ccy,
        }
    )
    per_order = per_payment.groupby("order_id").agg(
        captured=("captured", "sum"),
        reversed=("reversed", "sum"),
        n_charges=("n_charges", "sum"),
        foreign=("foreign", "any"),
    )

    o = orders.merge(per_order, left_on="order_id", right_index=True, how="left")
    captured = o["captured"].fillna(0).astype("int64")
    net = captured - o["reversed"].fillna(0).astype("int64")
    n_charges = o["n_charges"].fillna(0)
    foreign = o["foreign"].fillna(False).astype(bool)
    status = o["status"]
    expected = np.where(status.isin(PAID), o["total_amount"], 0)
    diff = net - expected
    young = o["created_at"] >= grace_start
    pending = status == "pending"
    paid = status.isin(PAID)
    closed = status.isin(CLOSED)

    # The first rule that applies wins (np.select takes the first true condition).
    rules = [
        (foreign, "currency_mismatch"),
        (pending & (net == 0), "open"),
        (pending & (net > 0) & young, "in_flight"),
        (pending, "order_status_lag"),
        (paid & (diff.abs() <= tau), "matched"),
        (paid & (captured == 0) & young, "in_flight"),
        (paid & (captured == 0), "missing_payment"),
        (paid & (diff < -tau), "underpaid"),
        (paid & (n_charges >= 2), "duplicate_charge"),
        (paid, "overpaid"),
        (closed & (net.abs() <= tau), "matched"),
        (closed & (net > tau), "refund_due"),
        (closed, "over_refunded"),
    ]
    category = np.select([c for c, _ in rules], [name for _, name in rules], default="unknown")

    order_items = pd.DataFrame(
        {
            "item_key": "order:" + o["order_id"].astype(str),
            "currency": o["currency"],
            "expected": expected,
            "net": net,
            "difference": diff,
            "category": category,
        }
    )

    stray = pays[unmatched]
    stray_net = np.where(stray["kind"] == "charge", stray["amount"], -stray["amount"])
    payment_items = pd.DataFrame(
        {
            "item_key": "payment:" + stray["payment_id"].astype(str),
            "currency": stray["currency"],
            "expected": 0,
            "net": stray_net,
            "difference": stray_net,
            "category": np.where(stray["created_at"] >= grace_start, "in_flight", "orphan_payment"),
        }
    )
    items = pd.concat([order_items, payment_items], ignore_index=True)
    if (items["category"] == "unknown").any():
        raise ValueError("an order has a status outside the contract")
    return items


def reconcile_counts(
    orders: pd.DataFrame,
    payments: pd.DataFrame,
    as_of: datetime | str,
    tolerance: str = "0.00",
    grace_minutes: int = 60,
) -> dict[str, int]:
    items = reconcile_items(orders, payments, as_of, tolerance, grace_minutes)
    return {str(k): int(v) for k, v in sorted(items["category"].value_counts().items())}
