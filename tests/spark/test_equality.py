"""Equality: the same source data landed by the embedded path and by the Spark path, reconciled by
the same dbt models on DuckDB (embedded landing), on DuckDB reading the Parquet lake, and on Spark
through dbt-spark's session method — identical category, amounts, age and break id per item.

The data moves between two landings (status changes, refunds, late commits inside the look-back),
so the incremental look-back/upsert of both paths is part of what is compared.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import connect, seed_shop
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.settings import load_settings
from finance_recon.sources.extract import extract_table
from finance_recon.spark.lake import register_duckdb_views
from finance_recon.spark.landing import land_table
from finance_recon.spark.reconcile import reconcile_on_duckdb, reconcile_on_spark
from finance_recon.warehouse import WarehouseResource

pytestmark = [pytest.mark.spark, pytest.mark.mysql, pytest.mark.postgres, pytest.mark.slow]

N_ORDERS = 3_000
ITEM_COLUMNS = (
    "item_key, item_type, break_id, order_id, payment_id, order_status, currency, "
    "cast(expected as {s}) as expected, cast(captured as {s}) as captured, cast(reversed as {s}) as reversed, "
    "cast(net as {s}) as net, cast(difference as {s}) as difference, n_charges, age_minutes, age_bucket, "
    "category, is_break"
)
SUMMARY_COLUMNS = "orders_considered, payments_considered, breaks, verdict"
CURRENCY_COLUMNS = (
    "currency, item_count, order_count, break_count, cast(total_expected as {s}) as total_expected, "
    "cast(total_net as {s}) as total_net, cast(break_amount as {s}) as break_amount"
)


def _duckdb_items(path) -> tuple[list[tuple], list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        items = conn.execute(
            f"select {ITEM_COLUMNS.format(s='varchar')} from main.fct_reconciliation_items order by item_key"
        ).fetchall()
        summary = conn.execute(f"select {SUMMARY_COLUMNS} from main.rpt_reconciliation_summary").fetchall()
        summary += conn.execute(
            f"select {CURRENCY_COLUMNS.format(s='varchar')} from main.rpt_currency_totals order by currency"
        ).fetchall()
    return items, summary


def _spark_items(spark, schema: str) -> tuple[list[tuple], list[tuple]]:
    items = spark.sql(
        f"select {ITEM_COLUMNS.format(s='string')} from {schema}.fct_reconciliation_items order by item_key"
    ).collect()
    summary = spark.sql(f"select {SUMMARY_COLUMNS} from {schema}.rpt_reconciliation_summary").collect()
    summary += spark.sql(
        f"select {CURRENCY_COLUMNS.format(s='string')} from {schema}.rpt_currency_totals order by currency"
    ).collect()
    return [tuple(r) for r in items], [tuple(r) for r in summary]


def test_embedded_and_spark_paths_reconcile_identically(spark, lake, mysql_url, pg_url, tmp_path):
    shop = generate_shop(N_ORDERS, seed=11)
    seed_shop(shop, mysql_url, pg_url)
    embedded = WarehouseResource(path=str(tmp_path / "embedded.duckdb"))
    lake_wh = tmp_path / "lake.duckdb"

    def land_both() -> dict:
        marks = {}
        for table, url in ((ORDERS, mysql_url), (PAYMENTS, pg_url)):
            e = extract_table(table, url, embedded, look_back_minutes=10, promote_now=True)
            s = land_table(
                spark, table, url, lake, look_back_minutes=10, partitions=3, min_rows_per_partition=500
            )
            assert (s.mode, s.rows_extracted, s.rows_total, s.watermark_after) == (
                e.mode,
                e.rows_extracted,
                e.rows_total,
                e.watermark_after,
            ), table.table
            marks[table.asset_name] = s.watermark_after
        return marks

    marks = land_both()
    now = shop.anchor + timedelta(minutes=3)
    with connect(mysql_url) as oconn, oconn.cursor() as cur:
        naive = lambda ts: ts.replace(tzinfo=None)  # noqa: E731 - MySQL DATETIME holds naive UTC
        cur.execute(
            "UPDATE orders SET status='paid', updated_at=%s WHERE status='pending' AND order_id %% 5 = 0",
            [naive(now)],
        )
        # Late commits: updated_at before the watermark already landed, inside the 10-min look-back.
        late = marks["orders"] - timedelta(minutes=5)
        cur.execute(
            "UPDATE orders SET status='cancelled', updated_at=%s WHERE status='paid' AND order_id %% 11 = 0",
            [naive(late)],
        )
        assert cur.rowcount > 0
        oconn.commit()
    with connect(pg_url) as pconn, pconn.cursor() as cur:
        cur.execute(
            "UPDATE payments SET status='succeeded', updated_at=%s WHERE status='pending'",
            [marks["payments"] - timedelta(minutes=4)],
        )
        cur.execute(
            "INSERT INTO payments SELECT 'mut_' || payment_id, order_id, provider, 'refund', 'succeeded', currency, "
            "amount, %s, %s FROM payments WHERE kind = 'charge' AND status = 'succeeded' AND order_id %% 13 = 0",
            [now, now],
        )
        assert cur.rowcount > 0
        pconn.commit()
    land_both()

    with duckdb.connect(str(lake_wh)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        register_duckdb_views(conn, lake, [ORDERS, PAYMENTS])
        # The landing itself is equal, row for row and byte for byte in every type.
        conn.execute(f"ATTACH '{embedded.path}' AS embedded (READ_ONLY)")
        for table in ("orders", "payments"):
            for a, b in (
                (f"landing.{table}", f"embedded.landing.{table}"),
                (f"embedded.landing.{table}", f"landing.{table}"),
            ):
                assert conn.execute(
                    f"select count(*) from (select * from {a} except all select * from {b})"
                ).fetchone() == (0,)

    dbt_vars = {
        "as_of": format_ts(shop.anchor + timedelta(minutes=10)),
        "tolerance": "0.00",
        "grace_minutes": 60,
    }
    work = tmp_path / "dbt"
    settings = load_settings()
    reconcile_on_duckdb(tmp_path / "embedded.duckdb", dbt_vars, work, settings=settings)
    reconcile_on_duckdb(lake_wh, dbt_vars, work, settings=settings)
    reconcile_on_spark(lake, dbt_vars, work, settings=settings)

    embedded_items, embedded_summary = _duckdb_items(tmp_path / "embedded.duckdb")
    lake_items, lake_summary = _duckdb_items(lake_wh)
    spark_items, spark_summary = _spark_items(spark, "finance_recon")

    assert len(embedded_items) >= N_ORDERS
    categories = {row[15] for row in embedded_items}
    assert {"matched", "duplicate_charge", "orphan_payment", "currency_mismatch"} <= categories
    assert lake_items == embedded_items
    assert spark_items == embedded_items
    assert lake_summary == embedded_summary == spark_summary
