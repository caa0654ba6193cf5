"""The one opener of the report store: a local folder laid out like the bucket, or `s3://bucket/prefix`.

Inside Dagster runs the S3 client comes from dagster-aws (`ReportStoreResource`); outside them
(the exporter, the runbook) `make_s3_client` builds a plain boto3 client with short timeouts, so a
scrape answers inside Prometheus' scrape_timeout even when the store hangs. Either way the choice
folder-or-bucket and the store classes are made here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from finance_recon.report.store import LocalReportStore, ReportStore, S3ReportStore

S3_CONNECT_TIMEOUT_SECONDS = 2
S3_READ_TIMEOUT_SECONDS = 5


def open_store(uri: str, endpoint_url: str | None, s3_client: Callable[[], Any]) -> ReportStore:
    """The store at `uri`; `s3_client()` is called only for an S3 store."""
    if uri.startswith("s3://"):
        return S3ReportStore(uri, s3_client(), endpoint_url=endpoint_url)
    return LocalReportStore(uri)


def open_report_store(settings: Any, s3_client: Any = None) -> ReportStore:
    """The store named by `settings.reports_uri`, outside Dagster runs: a plain boto3 client from the
    standard AWS environment variables and `settings.s3_endpoint_url` (path-style for MinIO / moto)."""
    return open_store(
        settings.reports_uri,
        settings.s3_endpoint_url,
        lambda: s3_client if s3_client is not None else make_s3_client(settings.s3_endpoint_url),
    )


def make_s3_client(endpoint_url: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=S3_CONNECT_TIMEOUT_SECONDS,
        read_timeout=S3_READ_TIMEOUT_SECONDS,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)
