"""The `orders` and `payments` assets on the Spark landing path: same keys, config, retry policy and
metadata as the embedded assets (`finance_recon.sources.assets`), so everything downstream — dbt
sources, checks, the report, the sensors — is unchanged when FINANCE_RECON_LANDING_ENGINE=spark.

Each asset lands its table into the lake (`land_table`) and then makes sure the DuckDB warehouse's
`landing.<table>` is a view over the lake (`register_duckdb_views`), so dbt on DuckDB reads the lake.
dbt on Spark registers the lake itself (macro `register_landing_lake`).
"""

from dagster import AssetExecutionContext, AssetsDefinition, Failure, MaterializeResult, RetryPolicy, asset

from finance_recon.contracts import ORDERS, PAYMENTS, SourceTable
from finance_recon.sources.assets import GROUP, OWNERS, SOURCE_RETRY_POLICY, ExtractConfig
from finance_recon.sources.errors import SourceError
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


def build_spark_source_asset(
    table: SourceTable, source_resource_key: str, *, retry_policy: RetryPolicy | None = SOURCE_RETRY_POLICY
) -> AssetsDefinition:
    @asset(
        name=table.asset_name,
        group_name=GROUP,
        owners=OWNERS,
        kinds=_KINDS[table.asset_name],
        description=_DESCRIPTIONS[table.asset_name],
        required_resource_keys={"warehouse", "pyspark", "lake", source_resource_key},
        retry_policy=retry_policy,
        metadata={
            "landing_table": f"landing.{table.asset_name}",
            "primary_key": table.primary_key,
            "landing_engine": "spark",
        },
    )
    def _land(context: AssetExecutionContext, config: ExtractConfig) -> MaterializeResult:
        source = getattr(context.resources, source_resource_key)
        lake_resource = context.resources.lake
        lake = lake_resource.lake
        try:
            result = land_table(
                context.resources.pyspark.spark_session,
                table,
                source.url,
                lake,
                look_back_minutes=source.look_back_minutes,
                partitions=lake_resource.partitions,
                min_rows_per_partition=lake_resource.min_rows_per_partition,
                fetch_size=lake_resource.fetch_size,
                full_refresh=config.full_refresh,
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
        except SourceError as exc:
            context.log.error(str(exc))
            raise Failure(description=str(exc), allow_retries=exc.retryable) from None
        metadata = result.metadata()
        metadata.update(
            {
                "landing_engine": "spark",
                "lake_path": str(lake.data_path(table)),
                "snapshot": lake.current_version(table) or "",
            }
        )
        return MaterializeResult(metadata=metadata)

    return _land


spark_orders = build_spark_source_asset(ORDERS, "orders_source")
spark_payments = build_spark_source_asset(PAYMENTS, "payments_source")

spark_source_assets = [spark_orders, spark_payments]
