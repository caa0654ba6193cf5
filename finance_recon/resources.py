"""Resources for one deployment, built from `Settings` (environment → resources, resolved once).

Secrets never appear here: source URLs are handed over as `EnvVar`s when set, S3 credentials come
from the standard AWS variables that boto3 reads itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from finance_recon.reconciliation.dbt_cli import LeanDbtCliResource
from finance_recon.reconciliation.project import dbt_project
from finance_recon.report.resources import ReportStoreResource
from finance_recon.settings import ENV_ORDERS_URL, ENV_PAYMENTS_URL, Settings, secret_or_default
from finance_recon.sources.resources import SourceDatabaseResource
from finance_recon.warehouse import WarehouseResource


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "warehouse": WarehouseResource(
            path=str(settings.warehouse_path),
            target=settings.warehouse_target,
            memory_limit=settings.warehouse_memory_limit,
        ),
        "orders_source": SourceDatabaseResource(
            url=secret_or_default(ENV_ORDERS_URL, settings.orders_url),
            look_back_minutes=settings.look_back_minutes,
            batch_rows=settings.extract_batch_rows,
            probe_enabled=settings.probe_enabled,
            probe_unmatched_every=settings.probe_unmatched_every,
        ),
        "payments_source": SourceDatabaseResource(
            url=secret_or_default(ENV_PAYMENTS_URL, settings.payments_url),
            look_back_minutes=settings.look_back_minutes,
            batch_rows=settings.extract_batch_rows,
            probe_enabled=settings.probe_enabled,
            probe_unmatched_every=settings.probe_unmatched_every,
        ),
        # The dbt beside this interpreter, so a venv works without being on PATH.
        "dbt": LeanDbtCliResource(
            project_dir=dbt_project,
            target=settings.warehouse_target,
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
        ),
        "report_store": ReportStoreResource(
            uri=settings.reports_uri,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_max_attempts=3,
            link_expiry_seconds=settings.report_link_expiry_seconds,
        ),
    }
