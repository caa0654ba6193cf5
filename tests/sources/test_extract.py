"""Incremental extraction on every engine: versions, late commits, reruns, full refresh, exact money."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.seed import connect, load_table
from finance_recon.sources.errors import ContractViolationError
from finance_recon.sources.extract import extract_table
from finance_recon.sources.urls import SourceUrl
from finance_recon.warehouse import WarehouseResource

from .conftest import T0, orders_table, payments_table

LOOK_BACK = 10


def extract(url, warehouse, table=ORDERS, **kw):
    return extract_table(
        table, url, warehouse, look_back_minutes=LOOK_BACK, batch_rows=2, promote_now=True, **kw
    )


def landed(warehouse, table=ORDERS) -> dict:
    with warehouse.connection(read_only=True) as conn:
        rows = conn.execute(f"SELECT * FROM landing.{table.asset_name} ORDER BY 1").fetchall()
    return {r[0]: r for r in rows}


def execute(url: str, sql: str, params: list) -> None:
    dialect = SourceUrl.parse(url).dialect
    if dialect == "duckdb":
        sql = sql.replace("%s", "?")
    if dialect == "mysql":  # DATETIME(6) holds naive UTC
        params = [p.replace(tzinfo=None) if hasattr(p, "tzinfo") and p.tzinfo else p for p in params]
    with connect(url) as conn:
        conn.cursor().execute(sql, params)
        conn.commit()


def upsert_order(url, order_id, status, amount, updated_at):
    execute(url, "DELETE FROM orders WHERE order_id = %s", [order_id])
    execute(
        url,
        "INSERT INTO orders VALUES (%s, %s, %s, 'USD', %s, %s, %s)",
        [order_id, 1000 + order_id, status, Decimal(amount), T0 - timedelta(hours=1), updated_at],
    )


def seed_three(url):
    load_table(
        ORDERS,
        orders_table(
            [
                (1, "paid", "10.00", T0),
                (2, "pending", "20.00", T0 + timedelta(seconds=1)),
                (3, "delivered", "30.00", T0 + timedelta(minutes=20)),
            ]
        ),
        url,
    )


def test_insert_extract_update_extract_picks_new_version(source_url, warehouse):
    seed_three(source_url)
    first = extract(source_url, warehouse)
    assert (first.mode, first.rows_extracted, first.rows_total) == ("full_refresh", 3, 3)
    assert first.watermark_after == T0 + timedelta(minutes=20)

    execute(
        source_url,
        "UPDATE orders SET status = 'shipped', updated_at = %s WHERE order_id = 2",
        [T0 + timedelta(minutes=25)],
    )
    second = extract(source_url, warehouse)
    assert second.mode == "incremental"
    assert second.read_since == T0 + timedelta(minutes=10)
    assert second.rows_extracted == 2  # order 3 (inside the look-back) and the new version of 2
    assert second.rows_total == 3
    assert second.watermark_after == T0 + timedelta(minutes=25)
    rows = landed(warehouse)
    assert rows[2][2] == "shipped" and rows[2][6] == T0 + timedelta(minutes=25)
    # The batch table holds exactly what this run read: the quality checks validate it.
    with warehouse.connection(read_only=True) as conn:
        assert sorted(
            r[0] for r in conn.execute("SELECT order_id FROM landing.orders__last_batch").fetchall()
        ) == [2, 3]


def test_late_commit_inside_look_back_is_captured(source_url, warehouse):
    seed_three(source_url)
    extract(source_url, warehouse)  # watermark T0+20min
    # A transaction that started earlier commits now, stamped 5 minutes before the watermark.
    upsert_order(source_url, 4, "paid", "40.00", T0 + timedelta(minutes=15))
    result = extract(source_url, warehouse)
    assert 4 in landed(warehouse)
    assert result.watermark_after == T0 + timedelta(minutes=20)  # the watermark never moves backwards


def test_late_commit_outside_look_back_is_the_documented_limit(source_url, warehouse):
    seed_three(source_url)
    extract(source_url, warehouse)  # watermark T0+20min, next read from T0+10min
    upsert_order(source_url, 5, "paid", "50.00", T0 + timedelta(minutes=5))
    extract(source_url, warehouse)
    assert 5 not in landed(warehouse), "documented limit: a commit older than the look-back is missed..."
    extract(source_url, warehouse, full_refresh=True)
    assert 5 in landed(warehouse), "...until a full refresh (or the row changes again)"


def test_rerun_writes_no_duplicate(source_url, warehouse):
    seed_three(source_url)
    extract(source_url, warehouse)
    for _ in range(2):
        again = extract(source_url, warehouse)
        assert again.rows_total == 3
    with warehouse.connection(read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT order_id) FROM landing.orders").fetchone() == (
            3,
            3,
        )


def test_full_refresh_equals_incremental(source_url, warehouse, tmp_path):
    seed_three(source_url)
    extract(source_url, warehouse)
    execute(
        source_url,
        "UPDATE orders SET status = 'refunded', updated_at = %s WHERE order_id = 1",
        [T0 + timedelta(minutes=30)],
    )
    upsert_order(source_url, 6, "pending", "60.00", T0 + timedelta(minutes=31))
    extract(source_url, warehouse)
    upsert_order(source_url, 7, "paid", "70.00", T0 + timedelta(minutes=28))  # late, inside look-back
    extract(source_url, warehouse)

    fresh = WarehouseResource(path=str(tmp_path / "fresh.duckdb"))
    extract(source_url, fresh, full_refresh=True)
    assert landed(warehouse) == landed(fresh)
    assert len(landed(fresh)) == 5


def test_exact_decimals_survive(source_url, warehouse):
    load_table(
        ORDERS,
        orders_table(
            [
                (1, "paid", "0.10", T0),
                (2, "paid", "0.20", T0),
                (3, "paid", "0.30", T0),
                (4, "paid", "9999999999999999.99", T0),
                (5, "paid", "0.00", T0),
            ]
        ),
        source_url,
    )
    extract(source_url, warehouse)
    with warehouse.connection(read_only=True) as conn:
        amounts = dict(conn.execute("SELECT order_id, total_amount FROM landing.orders").fetchall())
        (sum_ok,) = conn.execute(
            "SELECT sum(total_amount) FILTER (WHERE order_id IN (1, 2)) = "
            "max(total_amount) FILTER (WHERE order_id = 3) FROM landing.orders"
        ).fetchone()
    assert amounts[1] + amounts[2] == amounts[3] == Decimal("0.30")
    assert amounts[4] == Decimal("9999999999999999.99")
    assert str(amounts[5]) == "0.00"
    assert sum_ok is True


def test_payments_keep_nulls_and_strings(source_url, warehouse):
    load_table(
        PAYMENTS,
        payments_table(
            [
                ("pay_orphan", None, "charge", "succeeded", "12.34", T0),
                ("pay_1", 1, "refund", "pending", "0.01", T0),
                ('pay_"quoted",comma', 2, "chargeback", "failed", "9999999999999999.99", T0),
                ("NULL", 3, "charge", "succeeded", "1.00", T0),
                ("", 3, "charge", "succeeded", "1.00", T0),
                ("tab\there back\\slash new\nline ünïcode", 3, "charge", "succeeded", "1.00", T0),
            ]
        ),
        source_url,
    )
    extract(source_url, warehouse, table=PAYMENTS)
    rows = landed(warehouse, PAYMENTS)
    assert rows["pay_orphan"][1] is None
    assert rows["pay_1"][1] == 1 and rows["pay_1"][6] == Decimal("0.01")
    assert rows['pay_"quoted",comma'][6] == Decimal("9999999999999999.99")
    # The string 'NULL', the empty string and control characters are values, not NULLs or separators.
    assert {"NULL", "", "tab\there back\\slash new\nline ünïcode"} <= set(rows)


def test_empty_incremental_batch_keeps_watermark(source_url, warehouse):
    load_table(ORDERS, orders_table([(1, "paid", "1.00", T0)]), source_url)
    extract(source_url, warehouse)
    upsert_order(source_url, 1, "paid", "1.00", T0)  # nothing new, but inside the look-back
    execute(source_url, "DELETE FROM orders", [])
    result = extract(source_url, warehouse)
    assert (result.rows_extracted, result.rows_total) == (0, 1), (
        "hard deletes are not propagated incrementally"
    )
    assert result.watermark_after == T0
    full = extract(source_url, warehouse, full_refresh=True)
    assert full.rows_total == 0, "a full refresh replaces the landing table with the source's content"


@pytest.mark.parametrize(
    "ddl, column, expected",
    [
        (
            "order_id BIGINT, customer_id BIGINT, status VARCHAR(16), currency CHAR(3), "
            "created_at {ts}, updated_at {ts}",
            "total_amount",
            ["missing column total_amount", "expected DECIMAL(18,2)"],
        ),
        (
            "order_id BIGINT, customer_id BIGINT, status VARCHAR(16), currency CHAR(3), total_amount DOUBLE PRECISION, "
            "created_at {ts}, updated_at {ts}",
            "total_amount",
            ["column total_amount has type double", "expected DECIMAL(18,2)"],
        ),
        (
            "order_id BIGINT, customer_id BIGINT, status VARCHAR(16), currency CHAR(3), total_amount DECIMAL(18,4), "
            "created_at {ts}, updated_at {ts}",
            "total_amount",
            ["column total_amount has type", "(18,4)", "expected DECIMAL(18,2)"],
        ),
        (
            "order_id BIGINT, customer_id BIGINT, status VARCHAR(16), currency CHAR(3), total_amount DECIMAL(18,2), "
            "created_at {ts}, updated_at VARCHAR(40)",
            "updated_at",
            ["column updated_at has type", "expected DATETIME"],
        ),
    ],
    ids=["missing-column", "float-money", "wrong-scale", "text-timestamp"],
)
def test_contract_violation_names_table_and_column_and_writes_nothing(
    source_url, warehouse, ddl, column, expected
):
    dialect = SourceUrl.parse(source_url).dialect
    ts = {"mysql": "DATETIME(6)", "postgresql": "TIMESTAMPTZ", "duckdb": "TIMESTAMPTZ"}[dialect]
    ddl = ddl.format(ts=ts)
    if dialect == "duckdb":
        ddl = ddl.replace("DOUBLE PRECISION", "DOUBLE")
    execute(source_url, f"CREATE TABLE orders ({ddl})", [])
    with pytest.raises(ContractViolationError) as info:
        extract(source_url, warehouse)
    message = str(info.value)
    assert "\n" not in message
    assert "table orders" in message and column in message
    for fragment in expected:
        assert fragment in message, message
    with warehouse.connection(read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM landing.orders").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM landing._watermarks").fetchone() == (0,)


def test_missing_table_is_a_contract_violation(source_url, warehouse):
    execute(source_url, "CREATE TABLE unrelated (id BIGINT)", [])
    with pytest.raises(ContractViolationError, match="table orders does not exist"):
        extract(source_url, warehouse)


def test_source_change_forces_full_refresh(duckdb_url, tmp_path, warehouse):
    seed_three(duckdb_url)
    extract(duckdb_url, warehouse)
    other = f"duckdb:///{tmp_path / 'other.duckdb'}"
    load_table(ORDERS, orders_table([(9, "paid", "9.00", T0)]), other)
    result = extract(other, warehouse)
    assert result.mode == "full_refresh" and "source changed" in result.reason
    assert list(landed(warehouse)) == [9]


def test_mysql_client_and_pymysql_paths_land_the_same(mysql_url, warehouse, tmp_path, monkeypatch):
    from finance_recon.settings import ENV_MYSQL_READER, load_settings
    from finance_recon.sources.readers.mysql import client_binary

    assert client_binary(), "the MariaDB client ships with the server on the platform's machines"
    load_table(
        PAYMENTS,
        payments_table(
            [
                ("NULL", None, "charge", "succeeded", "0.10", T0),
                ("tab\there back\\slash new\nline", 1, "refund", "pending", "9999999999999999.99", T0),
                ("p3", 2, "charge", "failed", "0.30", T0 + timedelta(microseconds=123456)),
            ]
        ),
        mysql_url,
    )
    extract(mysql_url, warehouse, table=PAYMENTS)
    monkeypatch.setenv(ENV_MYSQL_READER, "pymysql")
    mysql_reader = load_settings().mysql_reader  # handed down by the source resource
    assert client_binary(mysql_reader) is None
    other = WarehouseResource(path=str(tmp_path / "pymysql.duckdb"))
    extract(mysql_url, other, table=PAYMENTS, mysql_reader=mysql_reader)
    assert landed(warehouse, PAYMENTS) == landed(other, PAYMENTS)
    assert landed(other, PAYMENTS)["NULL"][1] is None
    assert landed(other, PAYMENTS)["p3"][8] == T0 + timedelta(microseconds=123456)


def test_the_embedded_landing_takes_over_from_the_spark_engines_views(source_url, warehouse, tmp_path):
    """Issue 25 item 1: one Spark landing left `landing.orders` a view over its lake, and every later
    embedded run failed with "Can only delete from base table"."""
    import pyarrow.parquet as pq

    from finance_recon.spark.lake import Lake, register_duckdb_views

    seed_three(source_url)
    extract(source_url, warehouse)
    lake = Lake(tmp_path / "lake")
    for path in (lake.data_path(ORDERS), lake.batch_path(ORDERS)):
        path.mkdir(parents=True)
        pq.write_table(orders_table([(1, "paid", "10.00", T0)]), path / "part-0.parquet")
    with warehouse.connection() as conn:  # what a Spark landing run leaves in the warehouse
        register_duckdb_views(conn, lake, [ORDERS])
    again = extract(source_url, warehouse)
    assert again.mode == "full_refresh" and again.rows_total == 3
    assert set(landed(warehouse)) == {1, 2, 3}
    with warehouse.connection(read_only=True) as conn:
        kinds = conn.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'landing' AND table_name IN ('orders', 'orders__last_batch')"
        ).fetchall()
    assert sorted(kinds) == [("orders", "BASE TABLE"), ("orders__last_batch", "BASE TABLE")]
    assert extract(source_url, warehouse).mode == "incremental"  # and it stays healthy
