"""The Spark landing assets through Dagster: same keys as the embedded ones, metadata, the DuckDB
warehouse's `landing.*` becoming views over the lake, and the engine selection."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from dagster import materialize

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.seed import load_table
from finance_recon.settings import load_settings
from finance_recon.sources.resources import SourceDatabaseResource
from finance_recon.spark.assets import spark_source_assets
from finance_recon.spark.resources import LakeResource
from finance_recon.spark.wiring import select_landing
from finance_recon.warehouse import WarehouseResource

from .conftest import T0, orders_table, payments_table

pytestmark = [pytest.mark.spark, pytest.mark.mysql, pytest.mark.postgres]


def test_spark_assets_land_and_point_the_warehouse_at_the_lake(spark, tmp_path, mysql_url, pg_url):
    from dagster_pyspark import LazyPySparkResource

    load_table(
        ORDERS,
        orders_table([(1, "paid", "10.00", T0), (2, "pending", "0.01", T0 - timedelta(hours=1))]),
        mysql_url,
    )
    load_table(PAYMENTS, payments_table([("p1", 1, "charge", "succeeded", "10.00", T0)]), pg_url)
    warehouse = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))
    # An embedded landing table left from before the switch is replaced by a view.
    with warehouse.connection() as conn:
        conn.execute("CREATE SCHEMA landing; CREATE TABLE landing.orders (order_id BIGINT)")
    resources = {
        "pyspark": LazyPySparkResource(spark_config={}),  # getOrCreate: the test session
        "lake": LakeResource(root=str(tmp_path / "lake"), partitions=2, min_rows_per_partition=1),
        "warehouse": warehouse,
        "orders_source": SourceDatabaseResource(url=mysql_url),
        "payments_source": SourceDatabaseResource(url=pg_url),
    }
    result = materialize(spark_source_assets, resources=resources)
    assert result.success
    meta = {
        e.event_specific_data.materialization.asset_key.path[
            -1
        ]: e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta["orders"]["rows_extracted"].value == 2 and meta["orders"]["landing_engine"].value == "spark"
    assert meta["payments"]["max_updated_at"].value == T0.isoformat()
    with duckdb.connect(warehouse.path, read_only=True) as conn:
        kinds = dict(
            conn.execute(
                "select table_name, table_type from information_schema.tables where table_schema = 'landing'"
            ).fetchall()
        )
        assert kinds["orders"] == kinds["payments"] == kinds["orders__last_batch"] == "VIEW"
        assert str(conn.execute("select sum(total_amount) from landing.orders").fetchone()[0]) == "10.01"


def test_landing_engine_selects_the_assets(monkeypatch):
    monkeypatch.setenv("FINANCE_RECON_LANDING_ENGINE", "spark")
    assets, resources = select_landing(load_settings())
    assert [a.key.path[-1] for a in assets] == ["orders", "payments"]
    assert set(resources) == {"pyspark", "lake"}
    assert all(a.metadata_by_key[a.key]["landing_engine"] == "spark" for a in assets)
    monkeypatch.setenv("FINANCE_RECON_LANDING_ENGINE", "embedded")
    assets, resources = select_landing(load_settings())
    assert resources == {} and [a.key.path[-1] for a in assets] == ["orders", "payments"]
    monkeypatch.setenv("FINANCE_RECON_LANDING_ENGINE", "hadoop")
    with pytest.raises(ValueError, match="FINANCE_RECON_LANDING_ENGINE"):
        select_landing(load_settings())
