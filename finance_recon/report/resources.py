"""Where reports are published: a local folder laid out like the bucket, or S3/MinIO through dagster-aws."""

from __future__ import annotations

from dagster import ConfigurableResource

from finance_recon.report.opener import open_store
from finance_recon.report.store import ReportStore


class ReportStoreResource(ConfigurableResource):
    """`uri` is a folder or `s3://bucket/prefix`. For S3 the client comes from dagster-aws's
    `S3Resource` (endpoint from settings, credentials from the standard AWS variables boto3 reads)."""

    uri: str
    s3_endpoint_url: str | None = None
    s3_max_attempts: int = 3
    # Presigned links (S3) stay valid this long; FINANCE_RECON_REPORT_LINK_EXPIRY, at most 7 days.
    link_expiry_seconds: int = 7 * 24 * 3600
    # Breaks unchanged since the previous run are referenced, not rewritten (report/reuse.py);
    # FINANCE_RECON_REUSE_UNCHANGED_BREAKS. Off for the daily close, whose copy is self-contained.
    reuse_unchanged_breaks: bool = True

    def open(self) -> ReportStore:
        def s3_client():
            # Imported here, not at module import: dagster-aws and boto3 take ~2 s to import and the
            # default store is a folder, which needs neither.
            from dagster_aws.s3 import S3Resource

            return S3Resource(
                endpoint_url=self.s3_endpoint_url, max_attempts=self.s3_max_attempts
            ).get_client()

        return open_store(self.uri, self.s3_endpoint_url, s3_client)
