"""Spark JDBC landing into the Parquet lake, against the real MariaDB and PostgreSQL servers:
exact decimals and timestamps, look-back and upsert semantics, partitioned reads, contract failures."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal

import pytest

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.seed import connect, load_table
from finance_recon.sources.errors import ContractViolationError, SourceUnavailableError
from finance_recon.sources.urls import SourceUrl
from finance_recon.spark.jdbc import JdbcSource
from finance_recon.spark.landing import land_table

from .conftest import T0, lake_rows, orders_table, payments_table

pytestmark = [pytest.mark.spark]

BIG = "9999999999999999.99"  # the largest DECIMAL(18,2): would not survive a float64


def _mysql_ts(ts):
    return ts.astimezone(UTC).replace(tzinfo=None)


def test_orders_land_exactly_then_upsert_with_look_back(spark, lake, mysql_url):
    rows = [
        (1, "paid", "10.00", T0),
        (2, "pending", BIG, T0 + timedelta(microseconds=1)),  # largest amount, a microsecond apart
        (3, "cancelled", "0.01", T0 - timedelta(days=3)),
        (4, "shipped", "123.45", T0 - timedelta(days=2)),
    ]
    load_table(ORDERS, orders_table(rows), mysql_url)

    first = land_table(
        spark, ORDERS, mysql_url, lake, look_back_minutes=10, partitions=3, min_rows_per_partition=1
    )
    assert (first.mode, first.rows_extracted, first.rows_total) == ("full_refresh", 4, 4)
    assert first.watermark_after == T0 + timedelta(microseconds=1)
    landed = lake_rows(lake, ORDERS, "order_id")
    assert [(r[0], r[4]) for r in landed] == [
        (1, Decimal("10.00")),
        (2, Decimal(BIG)),
        (3, Decimal("0.01")),
        (4, Decimal("123.45")),
    ]
    assert landed[1][6] == T0 + timedelta(microseconds=1)  # microseconds and UTC kept

    with connect(mysql_url) as conn, conn.cursor() as cur:
        # A late commit: updated_at 5 min *before* the watermark, inside the 10-min look-back.
        cur.execute(
            "UPDATE orders SET status='delivered', updated_at=%s WHERE order_id=4",
            [_mysql_ts(T0 - timedelta(minutes=5))],
        )
        # Too late: 30 min before the watermark, outside the look-back (the documented limit).
        cur.execute(
            "UPDATE orders SET status='refunded', updated_at=%s WHERE order_id=3",
            [_mysql_ts(T0 - timedelta(minutes=30))],
        )
        # A new order and a normal change.
        cur.execute(
            "INSERT INTO orders VALUES (5, 1005, 'paid', 'USD', 77.70, %s, %s)",
            [_mysql_ts(T0), _mysql_ts(T0 + timedelta(minutes=1))],
        )
        cur.execute(
            "UPDATE orders SET total_amount=11.00, updated_at=%s WHERE order_id=1",
            [_mysql_ts(T0 + timedelta(minutes=2))],
        )
        conn.commit()

    second = land_table(
        spark, ORDERS, mysql_url, lake, look_back_minutes=10, partitions=3, min_rows_per_partition=1
    )
    assert second.mode == "incremental"
    assert second.read_since == T0 + timedelta(microseconds=1) - timedelta(minutes=10)
    # Re-read inside the window: 1, 2 (again: idempotent), 4 (late commit), 5 (new).
    assert second.rows_extracted == 4
    assert second.rows_total == 5
    assert second.watermark_after == T0 + timedelta(minutes=2)
    by_id = {r[0]: r for r in lake_rows(lake, ORDERS, "order_id")}
    assert by_id[1][4] == Decimal("11.00") and by_id[4][2] == "delivered" and by_id[5][4] == Decimal("77.70")
    assert by_id[3][2] == "cancelled"  # outside the look-back: missed until a full refresh

    third = land_table(
        spark, ORDERS, mysql_url, lake, full_refresh=True, partitions=2, min_rows_per_partition=1
    )
    assert (third.mode, third.rows_extracted, third.rows_total) == ("full_refresh", 5, 5)
    assert {r[0]: r[2] for r in lake_rows(lake, ORDERS, "order_id")}[3] == "refunded"
    # Snapshots are garbage-collected; the current one is always there.
    assert len(list((lake.table_dir(ORDERS) / "snapshots").iterdir())) <= 3


def test_payments_land_exactly_with_updated_at_windows(spark, lake, pg_url):
    rows = [
        ("p_big", 1, "charge", "succeeded", BIG, T0 - timedelta(hours=3)),
        ("p_cent", 2, "refund", "succeeded", "0.01", T0 - timedelta(hours=2)),
        ("p_orphan", None, "charge", "succeeded", "5.55", T0 - timedelta(hours=1)),  # NULL order_id kept
        ("p_late", 3, "charge", "pending", "9.99", T0 + timedelta(microseconds=7)),
    ]
    load_table(PAYMENTS, payments_table(rows), pg_url)
    first = land_table(spark, PAYMENTS, pg_url, lake, partitions=3, min_rows_per_partition=1)
    assert (first.rows_extracted, first.rows_total) == (4, 4)
    landed = {r[0]: r for r in lake_rows(lake, PAYMENTS, "payment_id")}
    assert landed["p_big"][6] == Decimal(BIG) and landed["p_cent"][6] == Decimal("0.01")
    assert landed["p_orphan"][1] is None
    assert landed["p_late"][8] == T0 + timedelta(microseconds=7)

    with connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE payments SET status='succeeded', updated_at=%s WHERE payment_id='p_late'",
            [T0 + timedelta(minutes=1)],
        )
        conn.commit()
    second = land_table(spark, PAYMENTS, pg_url, lake, partitions=3, min_rows_per_partition=1)
    assert (second.mode, second.rows_extracted, second.rows_total) == ("incremental", 1, 4)
    assert {r[0]: r[4] for r in lake_rows(lake, PAYMENTS, "payment_id")}["p_late"] == "succeeded"


def test_contract_violation_is_permanent_and_lands_nothing(spark, lake, mysql_url):
    with connect(mysql_url) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE orders (order_id BIGINT PRIMARY KEY, customer_id BIGINT, status VARCHAR(16), "
            "currency CHAR(3), total_amount DOUBLE, created_at DATETIME(6), updated_at DATETIME(6))"
        )
        conn.commit()
    with pytest.raises(ContractViolationError, match="total_amount") as exc:
        land_table(spark, ORDERS, mysql_url, lake)
    assert not exc.value.retryable
    assert lake.read_state(ORDERS) is None


def test_unreachable_source_is_retryable(spark, lake):
    with pytest.raises(SourceUnavailableError):
        land_table(spark, ORDERS, "mysql+pymysql://root@127.0.0.1:1/nowhere", lake)


def test_duckdb_sources_are_refused_by_the_spark_engine(tmp_path, lake):
    with pytest.raises(ContractViolationError, match="embedded"):
        land_table(None, ORDERS, f"duckdb:///{tmp_path / 'x.duckdb'}", lake)


@pytest.mark.parametrize("dialect", ["mysql", "postgresql"])
def test_partition_predicates_cover_every_row_once(dialect):
    url = {"mysql": "mysql+pymysql://root@h:3306/oltp", "postgresql": "postgresql://postgres@h:5432/db"}[
        dialect
    ]
    jdbc = JdbcSource.from_url(SourceUrl.parse(url))
    preds = jdbc.predicates(ORDERS, None, 1, 100, 4)
    assert len(preds) == 4 and "< 25" in preds[0] and ">= 75" in preds[-1]
    # Integer ranges: every id in (and beyond) the bounds satisfies exactly one predicate.
    bounds = [int(p.rsplit(" ", 1)[-1]) for p in preds[:-1]]
    for oid in range(-5, 120):
        hits = sum(
            [
                oid < bounds[0],
                *[(a <= oid < b) for a, b in zip(bounds, bounds[1:], strict=False)],
                oid >= bounds[-1],
            ]
        )
        assert hits == 1
    since = T0 - timedelta(minutes=10)
    ts_preds = jdbc.predicates(PAYMENTS, since, T0 - timedelta(hours=4), T0, 4)
    assert len(ts_preds) == 4 and all(jdbc.since_filter(since) in p for p in ts_preds)
    assert jdbc.predicates(ORDERS, None, 5, 5, 4) == ["1=1"]  # one row or one key: one partition
