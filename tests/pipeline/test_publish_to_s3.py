"""Publishing the report through dagster-aws to a real S3 API (moto_server on 127.0.0.1).

The report asset is materialized alone against the warehouse the shared deployment built, with its
store switched to `s3://…`. The mid-publish failure goes through a loopback proxy in front of moto
that drops every connection after N object writes: the endpoint really goes away half-way.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socketserver
import threading
import uuid

import boto3
import pytest
import requests
from dagster import DagsterInstance, materialize

from finance_recon.engines.embedded import EmbeddedWarehouse
from finance_recon.report.assets import finance_reconciliation_report
from finance_recon.report.resources import ReportStoreResource
from tests.pipeline.conftest import Deployment


@pytest.fixture
def bucket(moto_endpoint, monkeypatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    name = f"finance-reports-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return name


class _FlakyProxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Forwards to moto; after `writes_allowed` PUTs, drops every connection (the endpoint is gone)."""

    daemon_threads = True

    def __init__(self, upstream: str, writes_allowed: int):
        self.upstream = upstream
        self.writes_allowed = writes_allowed
        self.writes = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: _FlakyProxy

    def log_message(self, *args):  # keep test output clean
        pass

    def _forward(self):
        if self.command == "PUT":
            with self.server.lock:
                self.server.writes += 1
                gone = self.server.writes > self.server.writes_allowed
            if gone:
                self.close_connection = True
                self.connection.close()
                return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        upstream = requests.request(
            self.command, self.server.upstream + self.path, data=body, headers=headers, timeout=10
        )
        self.send_response(upstream.status_code)
        for key, value in upstream.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(upstream.content)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward


def _materialize_report(deployment: Deployment, endpoint: str, bucket: str):
    resources = {
        "warehouse": EmbeddedWarehouse(path=str(deployment.settings.warehouse_path)),
        "report_store": ReportStoreResource(
            uri=f"s3://{bucket}/finance-reports", s3_endpoint_url=endpoint, s3_max_attempts=1
        ),
    }
    return materialize(
        [finance_reconciliation_report],
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=endpoint)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_report_publishes_to_s3_with_manifest_and_latest(deployment: Deployment, moto_endpoint, bucket):
    result = _materialize_report(deployment, moto_endpoint, bucket)
    assert result.success
    objects = _objects(moto_endpoint, bucket)
    latest = json.loads(objects["finance-reports/latest.json"])
    assert latest["run_id"] == result.run_id
    manifest = json.loads(objects["finance-reports/" + latest["manifest_key"]])
    assert latest["manifest_key"].startswith(f"dt=2026-11-02/run={result.run_id}/")
    for entry in manifest["files"]:
        data = objects["finance-reports/" + entry["key"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    assert sorted(k.rsplit("/", 1)[-1] for k in objects) == sorted(
        ["breaks.csv", "breaks.parquet", "summary.json", "summary.html", "manifest.json", "latest.json"]
    )
    # Links that open: the run metadata and the Finance notice carry presigned HTTPS links (SigV4).
    import urllib.request

    from finance_recon.alerting.sensors import finance_message

    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    prefix = latest["manifest_key"].rsplit("/", 1)[0]
    assert metadata["report_uri"].value == f"s3://{bucket}/finance-reports/{prefix}/summary.html"
    for name, link_key in (("summary.html", "report_link"), ("breaks.csv", "breaks_csv_link")):
        link = metadata[link_key].url
        assert link.startswith("http://127.0.0.1:") and "X-Amz-Signature=" in link
        with urllib.request.urlopen(link, timeout=10) as response:
            assert response.read() == objects[f"finance-reports/{prefix}/{name}"]
    message = finance_message(metadata, result.run_id)
    assert metadata["report_link"].url in message["text"] and "valid until" in message["text"]
    assert message["report"]["link"] == metadata["report_link"].url


def test_a_publish_that_fails_half_way_leaves_latest_on_the_previous_run(
    deployment: Deployment, moto_endpoint, bucket
):
    good = _materialize_report(deployment, moto_endpoint, bucket)
    assert good.success
    before = _objects(moto_endpoint, bucket)

    proxy = _FlakyProxy(moto_endpoint, writes_allowed=2)  # breaks.csv and breaks.parquet get through
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        failed = _materialize_report(deployment, proxy.endpoint, bucket)
    finally:
        proxy.shutdown()
        proxy.server_close()

    assert not failed.success
    # The third write (summary.json) hit the dead endpoint (botocore may retry it once).
    assert proxy.writes >= 3
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "latest.json still names the previous run" in failure.event_specific_data.error.message
    after = _objects(moto_endpoint, bucket)
    assert after["finance-reports/latest.json"] == before["finance-reports/latest.json"]
    assert json.loads(after["finance-reports/latest.json"])["run_id"] == good.run_id
    failed_keys = sorted(k.rsplit("/", 1)[-1] for k in after if failed.run_id in k)
    assert failed_keys == ["breaks.csv", "breaks.parquet"], "a run without a manifest does not exist"
    # Every object of the good run is untouched.
    assert {k: v for k, v in after.items() if good.run_id in k} == {
        k: v for k, v in before.items() if good.run_id in k
    }
