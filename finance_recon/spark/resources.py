"""The Spark landing engine as a Dagster resource: `SparkLandingResource` under the same source
assets as the embedded engine (`finance_recon.sources.assets`), so everything downstream —
dbt sources, checks, the report, the sensors — is unchanged when FINANCE_RECON_LANDING_ENGINE=spark.

The resource owns its Spark session (created by the first landing that needs it: 10–20 s to start;
`getOrCreate` reuses the spark-submit driver's session when the job runs under spark-submit) and the
lake. Each landing writes its table into the lake (`land_table`) and then makes sure the DuckDB
warehouse's `landing.<table>` is a view over the lake (`register_duckdb_views`), so dbt on DuckDB
reads the lake. dbt on Spark registers the lake itself (macro `register_landing_lake`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from dagster import AssetExecutionContext
from pydantic import Field, PrivateAttr

from finance_recon.contracts import SourceTable
from finance_recon.settings import Settings
from finance_recon.sources.landing import warehouse_connection
from finance_recon.sources.resources import LandingResource

from .config import load_spark_settings
from .lake import Lake, register_duckdb_views
from .landing import land_table


class SparkLandingResource(LandingResource):
    """Spark JDBC (parallel partitioned reads) into the Parquet lake (`finance_recon.spark.lake`)."""

    STORAGE_KINDS: ClassVar[frozenset[str]] = frozenset({"spark", "parquet"})
    # Spark upserts the lake as it reads: the contract check still blocks dbt and the report, but
    # the lake already holds the batch (docs/engines.md).
    QUARANTINES: ClassVar[bool] = False
    DEFINITION_METADATA: ClassVar[Mapping[str, str]] = {"landing_engine": "spark"}
    PROBED: ClassVar[bool] = False  # docs/operations.md: the Spark landing is not probed
    # One Spark session per process, created lazily by `spark_session` and driving its own executors
    # in parallel already: the tables keep one step each, one after the other (sources/concurrent.py).
    CONCURRENT_READS: ClassVar[bool] = False

    def landed_where(self, table: SourceTable) -> str:
        return f"the Parquet lake by Spark JDBC (`landing.{table.asset_name}` in the warehouse is a view over it)"

    def landed_description(self, table: SourceTable) -> str:
        return (
            f"{table.title} landed in {self.landed_where(table)}: the latest version per "
            f"{table.primary_key}. Spark merges each batch into the lake as it reads it; "
            f"`{table.batch_asset_name}:contract` still blocks dbt and the report."
        )

    spark_config: dict[str, str] = Field(
        default_factory=dict,
        description="SparkSession configuration (spark/config.py `spark_conf`); static settings apply "
        "only when this process starts its JVM, an empty one reuses the running session.",
    )
    lake_root: str = Field(description="Lake folder (FINANCE_RECON_LAKE_DIR).")
    partitions: int = Field(default=4, description="Upper bound of parallel JDBC reads per table.")
    min_rows_per_partition: int = Field(
        default=50_000, description="Fewer rows than this per partition and fewer partitions are used."
    )
    fetch_size: int = Field(default=10_000, description="JDBC fetch size (rows per round trip).")
    keep_snapshots: int = Field(default=3, description="Snapshots kept per table (the current one included).")

    _spark_session: Any = PrivateAttr(default=None)

    @property
    def lake(self) -> Lake:
        return Lake(Path(self.lake_root))

    @property
    def spark_session(self) -> Any:
        if self._spark_session is None:
            # dagster-pyspark imports pyspark: only the Spark engine (this resource) may load it.
            from dagster_pyspark.resources import spark_session_from_config

            self._spark_session = spark_session_from_config(self.spark_config)
        return self._spark_session

    def land(
        self,
        context: AssetExecutionContext,
        table: SourceTable,
        source: Any,
        full_refresh: bool,
        writes: Any = None,  # unused: never called from threads (CONCURRENT_READS)
    ) -> dict[str, Any]:
        lake = self.lake
        result = land_table(
            self.spark_session,
            table,
            source.url,
            lake,
            look_back_minutes=source.look_back_minutes,
            partitions=self.partitions,
            min_rows_per_partition=self.min_rows_per_partition,
            fetch_size=self.fetch_size,
            full_refresh=full_refresh,
            run_id=context.run_id,
            keep_snapshots=self.keep_snapshots,
            logger=context.log,
        )
        warehouse = context.resources.warehouse
        if warehouse.target == "duckdb":
            with warehouse_connection(warehouse) as conn:
                dropped = register_duckdb_views(conn, lake, [table])
            if dropped:
                context.log.warning(f"replaced embedded landing tables {dropped} by views over the lake")
        return {
            **result.metadata(),
            "landing_engine": "spark",
            "lake_path": str(lake.data_path(table)),
            "snapshot": lake.current_version(table) or "",
        }


def build_spark_landing(settings: Settings) -> SparkLandingResource:
    """The Spark engine of a deployment, from its settings (`spark/config.py`)."""
    spark_settings = load_spark_settings(settings)
    return SparkLandingResource(
        spark_config=spark_settings.spark_conf(),
        lake_root=str(spark_settings.lake_dir),
        partitions=spark_settings.partitions,
    )
