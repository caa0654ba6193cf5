"""Presigned links on an S3 store (moto on 127.0.0.1), fetched with a plain HTTP client."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from finance_recon.cli import main
from finance_recon.report.resources import ReportStoreResource
from tests.reader.conftest import populate


@pytest.fixture
def s3_store_env(monkeypatch, moto_endpoint, tmp_path):
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = f"finance-reports-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/finance-reports"
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path))
    monkeypatch.setenv("FINANCE_RECON_REPORTS_URI", uri)
    monkeypatch.setenv("FINANCE_RECON_S3_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("FINANCE_RECON_REPORT_LINK_EXPIRY", "3600")
    store = ReportStoreResource(uri=uri, s3_endpoint_url=moto_endpoint).open()
    populate(store)
    return store


def test_presigned_links_open_over_http_and_return_the_published_bytes(s3_store_env, capsys):
    store = s3_store_env
    assert main(["report", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["links_expire_at"] is not None
    by_name = {link["name"]: link for link in doc["links"]}
    for name in ("summary.html", "breaks.parquet", "manifest.json"):
        link = by_name[name]
        assert link["uri"].startswith(f"s3://{store.bucket}/finance-reports/dt=")
        assert link["link"].startswith("http://127.0.0.1:") and "X-Amz-Signature=" in link["link"]
        assert "X-Amz-Expires=3600" in link["link"]
        key = link["uri"].removeprefix(f"s3://{store.bucket}/finance-reports/")
        with urllib.request.urlopen(link["link"], timeout=10) as response:
            assert response.status == 200
            assert response.read() == store.get(key)


def test_expiry_over_seven_days_is_refused_naming_the_variable(s3_store_env, monkeypatch, capsys):
    monkeypatch.setenv("FINANCE_RECON_REPORT_LINK_EXPIRY", "604801")
    assert main(["report"]) == 2
    err = capsys.readouterr().err
    assert "FINANCE_RECON_REPORT_LINK_EXPIRY" in err and err.count("\n") == 1
