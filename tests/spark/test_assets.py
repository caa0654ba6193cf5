"""The source assets over the Spark landing resource through Dagster: same keys as over the embedded
one, metadata, the DuckDB warehouse's `landing.*` becoming views over the lake, and the engine
selection by the settings."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from dagster import materialize

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.seed import load_table
from finance_recon.resources import landing_resource
from finance_recon.settings import load_settings
from finance_recon.sources.assets import build_source_assets
from finance_recon.sources.resources import EmbeddedLandingResource, SourceDatabaseResource
from finance_recon.spark.resources import SparkLandingResource
from finance_recon.warehouse import WarehouseResource

from .conftest import T0, orders_table, payments_table

pytestmark = [pytest.mark.spark, pytest.mark.mysql, pytest.mark.postgres]


def test_spark_assets_land_and_point_the_warehouse_at_the_lake(spark, tmp_path, mysql_url, pg_url):
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
    # No spark_config: getOrCreate finds the test session.
    landing = SparkLandingResource(lake_root=str(tmp_path / "lake"), partitions=2, min_rows_per_partition=1)
    resources = {
        "landing": landing,
        "warehouse": warehouse,
        "orders_source": SourceDatabaseResource(url=mysql_url),
        "payments_source": SourceDatabaseResource(url=pg_url),
    }
    result = materialize(build_source_assets(landing), resources=resources)
    assert result.success
    meta = {
        e.event_specific_data.materialization.asset_key.path[
            -1
        ]: e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta["orders_batch"]["rows_extracted"].value == 2
    assert meta["orders_batch"]["landing_engine"].value == "spark"
    assert meta["orders"]["merged"].value == "by the landing engine at read"
    assert meta["payments_batch"]["max_updated_at"].value == T0.isoformat()
    with duckdb.connect(warehouse.path, read_only=True) as conn:
        kinds = dict(
            conn.execute(
                "select table_name, table_type from information_schema.tables where table_schema = 'landing'"
            ).fetchall()
        )
        assert kinds["orders"] == kinds["payments"] == kinds["orders__last_batch"] == "VIEW"
        assert str(conn.execute("select sum(total_amount) from landing.orders").fetchone()[0]) == "10.01"


def test_landing_engine_selects_the_resource_under_the_same_assets(monkeypatch, tmp_path):
    monkeypatch.setenv("FINANCE_RECON_LANDING_ENGINE", "spark")
    monkeypatch.setenv("FINANCE_RECON_LAKE_DIR", str(tmp_path / "lake"))
    monkeypatch.setenv("FINANCE_RECON_SPARK_PARTITIONS", "3")
    landing = landing_resource(load_settings())
    assert isinstance(landing, SparkLandingResource)
    assert (landing.lake_root, landing.partitions) == (str(tmp_path / "lake"), 3)
    assert landing.spark_config["spark.sql.session.timeZone"] == "UTC"
    assets = build_source_assets(landing)
    # One step reads every table's batch (issue 27; Spark's one after the other), then the landed tables.
    assert [sorted(k.path[-1] for k in a.keys) for a in assets] == [
        ["orders_batch", "payments_batch"],
        ["orders"],
        ["payments"],
    ]
    assert all(a.metadata_by_key[k]["landing_engine"] == "spark" for a in assets for k in a.keys)
    assert all({"spark", "parquet"} <= set(a.specs_by_key[k].kinds) for a in assets for k in a.keys)
    # The batches read through the engine; the landed table has nothing to merge (Spark merged it).
    assert ["landing" in a.required_resource_keys for a in assets] == [True, False, False]
    monkeypatch.setenv("FINANCE_RECON_LANDING_ENGINE", "embedded")
    landing = landing_resource(load_settings())
    assert isinstance(landing, EmbeddedLandingResource)
    assets = build_source_assets(landing)
    assert [sorted(k.path[-1] for k in a.keys) for a in assets] == [
        ["orders_batch", "payments_batch"],
        ["orders"],
        ["payments"],
    ]
    assert all("duckdb" in a.specs_by_key[k].kinds for a in assets for k in a.keys)
    assert all("landing_engine" not in a.metadata_by_key[k] for a in assets for k in a.keys)
    monkeypatch.setenv("FINANCE_RECON_LANDING_ENGINE", "hadoop")
    with pytest.raises(ValueError, match="FINANCE_RECON_LANDING_ENGINE"):
        landing_resource(load_settings())
