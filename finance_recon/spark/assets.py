"""The Spark landing engine of the `orders` and `payments` assets: the assets themselves are built by
`finance_recon.sources.assets.build_source_asset` (same keys, config, retry policy, failure
handling), so everything downstream — dbt sources, checks, the report, the sensors — is unchanged
when FINANCE_RECON_LANDING_ENGINE=spark.

Each asset lands its table into the lake (`land_table`) and then makes sure the DuckDB warehouse's
`landing.<table>` is a view over the lake (`register_duckdb_views`), so dbt on DuckDB reads the lake.
dbt on Spark registers the lake itself (macro `register_landing_lake`).
"""

from typing import Any

from dagster import AssetExecutionContext, AssetsDefinition, RetryPolicy

from finance_recon.contracts import ORDERS, PAYMENTS, SourceTable
from finance_recon.sources.assets import SOURCE_RETRY_POLICY, LandingEngine, build_source_asset
from finance_recon.sources.landing import warehouse_connection

from .lake import register_duckdb_views
from .landing import land_table

_DESCRIPTIONS = {
    "orders": "Shop orders from the MySQL `oltp.orders` table (contracts §1), landed by Spark JDBC "
    "(primary-key range partitions) into the Parquet lake with the latest version per order_id; "
    "`landing.orders` in the warehouse is a view over it. Incremental on updated_at with a look-back window.",
    "payments": "Provider payments from PostgreSQL `public.payments` (contracts §1), landed by Spark JDBC "
    "(updated_at window partitions) into the Parquet lake with the latest version per payment_id; "
    "`landing.payments` in the warehouse is a view over it. Incremental on updated_at with a look-back window.",
}
_KINDS = {"orders": {"mysql", "spark", "parquet"}, "payments": {"postgres", "spark", "parquet"}}


def _land_spark(
    context: AssetExecutionContext, table: SourceTable, source, full_refresh: bool
) -> dict[str, Any]:
    lake_resource = context.resources.lake
    lake = lake_resource.lake
    result = land_table(
        context.resources.pyspark.spark_session,
        table,
        source.url,
        lake,
        look_back_minutes=source.look_back_minutes,
        partitions=lake_resource.partitions,
        min_rows_per_partition=lake_resource.min_rows_per_partition,
        fetch_size=lake_resource.fetch_size,
        full_refresh=full_refresh,
        run_id=context.run_id,
        keep_snapshots=lake_resource.keep_snapshots,
        logger=context.log,
    )
    warehouse = context.resources.warehouse
    if warehouse.target == "duckdb":
        with warehouse_connection(warehouse) as conn:
            dropped = register_duckdb_views(conn, lake, [table])
        if dropped:
            context.log.warning(f"replaced embedded landing tables {dropped} by views over the lake")
    metadata = result.metadata()
    metadata.update(
        {
            "landing_engine": "spark",
            "lake_path": str(lake.data_path(table)),
            "snapshot": lake.current_version(table) or "",
        }
    )
    return metadata


SPARK_LANDING = LandingEngine(
    land=_land_spark,
    descriptions=_DESCRIPTIONS,
    kinds=_KINDS,
    resource_keys=frozenset({"pyspark", "lake"}),
    metadata={"landing_engine": "spark"},
)


def build_spark_source_asset(
    table: SourceTable, source_resource_key: str, *, retry_policy: RetryPolicy | None = SOURCE_RETRY_POLICY
) -> AssetsDefinition:
    return build_source_asset(table, source_resource_key, engine=SPARK_LANDING, retry_policy=retry_policy)


spark_orders = build_spark_source_asset(ORDERS, "orders_source")
spark_payments = build_spark_source_asset(PAYMENTS, "payments_source")

spark_source_assets = [spark_orders, spark_payments]
