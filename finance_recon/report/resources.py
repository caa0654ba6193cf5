"""Where reports are published: a local folder laid out like the bucket, or S3/MinIO through dagster-aws."""

from __future__ import annotations

from dagster import ConfigurableResource
from dagster_aws.s3 import S3Resource

from finance_recon.report.store import LocalReportStore, ReportStore, S3ReportStore


class ReportStoreResource(ConfigurableResource):
    """`uri` is a folder or `s3://bucket/prefix`; `s3` carries endpoint and credentials (from the environment)."""

    uri: str
    s3: S3Resource

    def open(self) -> ReportStore:
        if self.uri.startswith("s3://"):
            return S3ReportStore(self.uri, self.s3.get_client(), endpoint_url=self.s3.endpoint_url)
        return LocalReportStore(self.uri)
