"""The benchmark baselines (bench/baselines) agree with the generator's ground truth.

They are benchmark baselines only (the rules live in the dbt models); this keeps them honest so that
`bench.reconcile`'s three-way cross-check fails only when the platform is wrong. Small and fast.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from bench.baselines import duckdb_sql, pandas_recon
from bench.reconcile import ANCHOR, land_shop
from finance_recon.demo.generator import generate_shop


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    shop = generate_shop(2_000, seed=11, anchor=ANCHOR)
    db = tmp_path_factory.mktemp("bench") / "warehouse.duckdb"
    land_shop(shop, db)
    conn = duckdb.connect(str(db))
    conn.execute("SET TimeZone = 'UTC'")
    yield shop, conn
    conn.close()


# The generator's ground truth holds for any as_of in [anchor, anchor + 20 min].
@pytest.mark.parametrize("minutes", [0, 10, 20])
def test_hand_written_query_matches_ground_truth(landed, minutes):
    shop, conn = landed
    as_of = ANCHOR + timedelta(minutes=minutes)
    assert duckdb_sql.reconcile_counts(conn, as_of) == shop.expected_counts()
    assert duckdb_sql.materialize(conn, "main.bench_items", as_of) == shop.expected_counts()


@pytest.mark.parametrize("minutes", [0, 20])
def test_pandas_matches_ground_truth(landed, minutes):
    shop, conn = landed
    orders, payments = pandas_recon.load_landing(conn)
    assert (
        pandas_recon.reconcile_counts(orders, payments, ANCHOR + timedelta(minutes=minutes))
        == shop.expected_counts()
    )


def test_baselines_agree_item_by_item(landed):
    shop, conn = landed
    as_of = ANCHOR + timedelta(minutes=10)
    truth = dict(
        zip(*(shop.ground_truth.column(c).to_pylist() for c in ("item_key", "category")), strict=True)
    )
    sql_items = dict(
        conn.execute(f"SELECT item_key, category FROM ({duckdb_sql.items_sql(as_of)})").fetchall()
    )
    orders, payments = pandas_recon.load_landing(conn)
    frame = pandas_recon.reconcile_items(orders, payments, as_of)
    pandas_items = dict(zip(frame["item_key"], frame["category"], strict=True))
    assert sql_items == truth
    assert pandas_items == truth


def test_money_is_exact_and_tolerance_applies(tmp_path):
    """0.10 + 0.20 settles 0.30 at τ = 0; one cent short is underpaid at τ = 0 and matched at τ = 0.01."""
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("CREATE SCHEMA landing")
    conn.execute(
        "CREATE TABLE landing.orders (order_id BIGINT, customer_id BIGINT, status VARCHAR, currency VARCHAR, "
        "total_amount DECIMAL(18,2), created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ)"
    )
    conn.execute(
        "CREATE TABLE landing.payments (payment_id VARCHAR, order_id BIGINT, provider VARCHAR, kind VARCHAR, "
        "status VARCHAR, currency VARCHAR, amount DECIMAL(18,2), created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ)"
    )
    t = "TIMESTAMPTZ '2026-11-01 00:00:00+00'"
    conn.execute(
        f"INSERT INTO landing.orders VALUES (1, 1, 'paid', 'USD', 0.30, {t}, {t}), (2, 1, 'paid', 'USD', 1.00, {t}, {t})"
    )
    conn.execute(
        "INSERT INTO landing.payments VALUES "
        f"('a', 1, 's', 'charge', 'succeeded', 'USD', 0.10, {t}, {t}), "
        f"('b', 1, 's', 'charge', 'succeeded', 'USD', 0.20, {t}, {t}), "
        f"('c', 2, 's', 'charge', 'succeeded', 'USD', 0.99, {t}, {t})"
    )
    as_of = ANCHOR
    orders, payments = pandas_recon.load_landing(conn)
    for tolerance, expected in (
        ("0.00", {"matched": 1, "underpaid": 1}),
        ("0.01", {"matched": 2}),
    ):
        assert duckdb_sql.reconcile_counts(conn, as_of, tolerance) == expected
        assert pandas_recon.reconcile_counts(orders, payments, as_of, tolerance) == expected
    conn.close()
