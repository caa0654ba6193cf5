"""Resources for one deployment, built from `Settings` (environment → resources, resolved once).

The one place where a deployment's engines are chosen: the same assets run everywhere, over the
resources this module maps the settings to (FINANCE_RECON_LANDING_ENGINE → the `landing` resource,
FINANCE_RECON_WAREHOUSE_TARGET → the warehouse and dbt target).

Secrets never appear here: source URLs are handed over as `EnvVar`s when set, S3 credentials come
from the standard AWS variables that boto3 reads itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource

from finance_recon.contracts import SOURCE_TABLES, SourceTable
from finance_recon.engines.embedded import EmbeddedWarehouse
from finance_recon.engines.trino import TrinoWarehouse
from finance_recon.reconciliation.project import dbt_project
from finance_recon.report.resources import ReportStoreResource
from finance_recon.settings import (
    ENV_ICEBERG_CATALOG_URL,
    Settings,
    secret_or_default,
    source_url_env,
)
from finance_recon.sources.resources import EmbeddedLandingResource, LandingResource, SourceDatabaseResource
from finance_recon.trino.resources import TrinoLandingResource
from finance_recon.warehouse import Warehouse


def landing_resource(settings: Settings) -> LandingResource:
    """The landing engine under every source table's assets (FINANCE_RECON_LANDING_ENGINE)."""
    if settings.warehouse_target == "trino":
        return TrinoLandingResource()  # Trino reads the sources into its own Iceberg tables
    if settings.landing_engine == "spark":
        # Imported only for this engine: the embedded path never loads PySpark or dagster-pyspark.
        from finance_recon.spark.resources import build_spark_landing

        return build_spark_landing(settings)
    return EmbeddedLandingResource()


def source_resource(settings: Settings, table: SourceTable) -> SourceDatabaseResource:
    """Where `table` is read from (its URL an `EnvVar` when set: the UI never shows a password)."""
    return SourceDatabaseResource(
        url=secret_or_default(source_url_env(table), settings.source_url(table)),
        look_back_minutes=settings.look_back_minutes,
        batch_rows=settings.extract_batch_rows,
        probe_enabled=settings.probe_enabled,
        probe_unmatched_every=settings.probe_unmatched_every,
        mysql_reader=settings.mysql_reader,
    )


def warehouse_resource(settings: Settings) -> Warehouse:
    """The warehouse of the dbt target (FINANCE_RECON_WAREHOUSE_TARGET): the DuckDB file, or Iceberg
    tables through Trino, everything under the deployment's schema (`<schema>`, `<schema>_landing`,
    `<schema>_control`). The one place that asks which engine a deployment runs on."""
    if settings.warehouse_target == "trino":
        return TrinoWarehouse(
            host=settings.trino_host,
            port=settings.trino_port,
            user=settings.trino_user,
            catalog=settings.trino_catalog,
            models_schema=settings.trino_schema,
            landing_schema=f"{settings.trino_schema}_landing",
            control_schema=f"{settings.trino_schema}_control",
            local_dir=str(settings.home / "trino"),
            iceberg_catalog_uri=secret_or_default(ENV_ICEBERG_CATALOG_URL, settings.iceberg_catalog_url),
            s3_endpoint_url=settings.s3_endpoint_url
            if settings.iceberg_warehouse.startswith("s3://")
            else None,
        )
    return EmbeddedWarehouse(
        path=str(settings.warehouse_path),
        target=settings.warehouse_target,
        memory_limit=settings.warehouse_memory_limit,
    )


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "warehouse": warehouse_resource(settings),
        **{table.source_resource_key: source_resource(settings, table) for table in SOURCE_TABLES},
        "landing": landing_resource(settings),
        # The dbt beside this interpreter, so a venv works without being on PATH.
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            target=settings.warehouse_target,
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
        ),
        "report_store": ReportStoreResource(
            uri=settings.reports_uri,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_max_attempts=3,
            link_expiry_seconds=settings.report_link_expiry_seconds,
            reuse_unchanged_breaks=settings.reuse_unchanged_breaks,
        ),
    }
