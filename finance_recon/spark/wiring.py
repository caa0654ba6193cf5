"""What `finance_recon.definitions.build_definitions` needs to select the landing engine.

    source_assets, extra_resources = select_landing(settings)
    Definitions(assets=[*source_assets, reconciliation_dbt_models, finance_reconciliation_report],
                resources={**build_resources(settings), **extra_resources}, ...)

FINANCE_RECON_LANDING_ENGINE=embedded (default) keeps the DuckDB landing; `spark` swaps in the Spark
JDBC → Parquet lake assets under the same asset keys, plus the `pyspark` and `lake` resources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from finance_recon.settings import Settings

from .config import load_spark_settings

if TYPE_CHECKING:
    from dagster import AssetsDefinition


def select_landing(settings: Settings) -> tuple[list[AssetsDefinition], dict[str, Any]]:
    # The Spark modules (and through them dagster-pyspark / pyspark) are imported only when the
    # engine is `spark`: the embedded path never loads them.
    spark_settings = load_spark_settings(settings)
    if spark_settings.landing_engine == "spark":
        from .assets import spark_source_assets
        from .resources import build_spark_resources

        return list(spark_source_assets), build_spark_resources(settings, spark_settings)
    from finance_recon.contracts import ORDERS, PAYMENTS
    from finance_recon.probe.step import before_read
    from finance_recon.sources.assets import build_source_asset

    # The embedded landing's assets, with the correctness prober before each read (off unless
    # FINANCE_RECON_PROBE_ENABLED; the Spark engine is not probed, docs/operations.md).
    return [
        build_source_asset(ORDERS, "orders_source", before_read=before_read),
        build_source_asset(PAYMENTS, "payments_source", before_read=before_read),
    ], {}
