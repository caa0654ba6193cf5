"""Resources of the Spark landing path: the Spark session (dagster-pyspark) and the lake.

`build_spark_resources(settings)` gives the two extra resource keys the Spark assets need; the
existing `warehouse` and `*_source` resources are shared with the embedded path unchanged.
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from finance_recon.settings import Settings

from .config import SparkSettings, load_spark_settings
from .lake import Lake


class LakeResource(ConfigurableResource):
    """The Parquet lake the Spark landing path writes (`finance_recon.spark.lake`)."""

    root: str = Field(description="Lake folder (FINANCE_RECON_LAKE_DIR).")
    partitions: int = Field(default=4, description="Upper bound of parallel JDBC reads per table.")
    min_rows_per_partition: int = Field(
        default=50_000, description="Fewer rows than this per partition and fewer partitions are used."
    )
    fetch_size: int = Field(default=10_000, description="JDBC fetch size (rows per round trip).")
    keep_snapshots: int = Field(default=3, description="Snapshots kept per table (the current one included).")

    @property
    def lake(self) -> Lake:
        from pathlib import Path

        return Lake(Path(self.root))


def build_spark_resources(settings: Settings, spark_settings: SparkSettings | None = None) -> dict[str, Any]:
    # dagster-pyspark imports pyspark: only the Spark landing path (which calls this) may load it.
    from dagster_pyspark import LazyPySparkResource

    spark_settings = spark_settings or load_spark_settings(settings)
    return {
        # Lazy: the session (10–20 s to start) is created by the first asset that needs it, and
        # `getOrCreate` reuses the spark-submit driver's session when the job runs under spark-submit.
        "pyspark": LazyPySparkResource(spark_config=spark_settings.spark_conf()),
        "lake": LakeResource(root=str(spark_settings.lake_dir), partitions=spark_settings.partitions),
    }
