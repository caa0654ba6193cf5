"""Metrics over the published reports: the reader of `latest.json`/manifests and the Prometheus exporter.

`read_latest(settings)` is the shared entry point for anything that needs the newest report
outside a Dagster run (the exporter, `finance-recon diagnose`, `finance-recon drill`).
"""

from finance_recon.metrics.latest import (
    InvalidReportError,
    LatestReport,
    make_s3_client,
    open_report_store,
    parse_manifest,
    read_latest,
)

__all__ = [
    "InvalidReportError",
    "LatestReport",
    "make_s3_client",
    "open_report_store",
    "parse_manifest",
    "read_latest",
]
