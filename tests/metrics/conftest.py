"""Fixtures for the metrics tests: a local report store, and an S3 one on moto (127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finance_recon.report.store import LocalReportStore


@pytest.fixture
def local_store(tmp_path: Path) -> LocalReportStore:
    return LocalReportStore(tmp_path / "object-store" / "finance-reports")


@pytest.fixture
def s3_env(monkeypatch, moto_endpoint):
    """Standard AWS variables pointing boto3 at moto, plus a fresh bucket; returns (endpoint, bucket)."""
    import uuid

    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = f"finance-reports-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    return moto_endpoint, bucket
