"""The report store (a real S3 API, moto, behind a loopback HTTP proxy) answering 403 or going
away in the middle of a publish: the run fails with one line naming the store URI, classified,
and `latest.json` keeps naming the previous complete run; a later publish succeeds."""

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

from finance_recon.cli.pipeline import RunRequestOptions, execute
from finance_recon.engines.embedded import EmbeddedWarehouse
from finance_recon.report.assets import finance_reconciliation_report
from finance_recon.report.resources import ReportStoreResource
from finance_recon.runs.facts import run_failure
from finance_recon.settings import load_settings
from tests.faults.conftest import AS_OF, make_home

PREFIX = "finance-reports"
ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message></Error>"
)


class _FaultyS3(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Forwards to moto; after `writes_allowed` PUTs answers 403 ("denied") or drops every
    connection ("gone")."""

    daemon_threads = True

    def __init__(self, upstream: str, writes_allowed: int, mode: str):
        self.upstream, self.writes_allowed, self.mode = upstream, writes_allowed, mode
        self.writes = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _FaultyS3

    def log_message(self, *args):
        pass

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.command == "PUT":
            with self.server.lock:
                self.server.writes += 1
                faulty = self.server.writes > self.server.writes_allowed
            if faulty and self.server.mode == "gone":
                self.close_connection = True
                self.connection.close()
                return
            if faulty:
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(ACCESS_DENIED)))
                self.end_headers()
                self.wfile.write(ACCESS_DENIED)
                return
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


@pytest.fixture(scope="module")
def published(tmp_path_factory, moto_endpoint):
    """A home whose first run published to s3://<bucket>/finance-reports through the CLI code path."""
    bucket = f"finance-reports-{uuid.uuid4().hex[:8]}"
    home = make_home(tmp_path_factory.mktemp("store") / "home")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "FINANCE_RECON_HOME": str(home.path),
            "DAGSTER_HOME": str(home.path / "dagster"),
            "FINANCE_RECON_REPORTS_URI": f"s3://{bucket}/{PREFIX}",
            "FINANCE_RECON_S3_ENDPOINT_URL": moto_endpoint,
        }.items():
            mp.setenv(name, value)
        for name in (
            "FINANCE_RECON_ORDERS_URL",
            "FINANCE_RECON_PAYMENTS_URL",
            "FINANCE_RECON_WAREHOUSE_PATH",
        ):
            mp.delenv(name, raising=False)
        boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
        settings = load_settings()
        first = execute(RunRequestOptions(as_of=AS_OF), settings)
        assert first.success, first.cause
        yield bucket, settings, first.run_id, mp


def _latest_is_valid(endpoint: str, bucket: str) -> str:
    """`latest.json` names a complete run whose files match their sha256; returns its run id."""
    client = boto3.client("s3", endpoint_url=endpoint)

    def get(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=f"{PREFIX}/{key}")["Body"].read()

    latest = json.loads(get("latest.json"))
    manifest = json.loads(get(latest["manifest_key"]))
    assert manifest["run_id"] == latest["run_id"]
    for entry in manifest["files"]:
        data = get(entry["key"])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    return latest["run_id"]


def _publish(settings, bucket: str, endpoint: str):
    return materialize(
        [finance_reconciliation_report],
        resources={
            "warehouse": EmbeddedWarehouse(path=str(settings.warehouse_path)),
            "report_store": ReportStoreResource(
                uri=f"s3://{bucket}/{PREFIX}", s3_endpoint_url=endpoint, s3_max_attempts=1
            ),
        },
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


@pytest.mark.parametrize(
    ("mode", "kind", "retryable"), [("denied", "store_denied", False), ("gone", "unreachable", True)]
)
def test_a_store_failing_mid_publish_keeps_latest_valid(published, moto_endpoint, mode, kind, retryable):
    bucket, settings, good_run, _ = published
    before = _latest_is_valid(moto_endpoint, bucket)
    proxy = _FaultyS3(moto_endpoint, writes_allowed=2, mode=mode)  # breaks.csv, breaks.parquet pass
    try:
        failed = _publish(settings, bucket, proxy.endpoint)
    finally:
        proxy.close()
    assert not failed.success and proxy.writes >= 3
    failure = run_failure(failed.all_events)
    assert failure.cause.startswith("step finance_reconciliation_report failed: ")
    assert f"s3://{bucket}/{PREFIX}/" in failure.cause and "\n" not in failure.cause
    assert (failure.kind, failure.retryable) == (kind, retryable)
    assert _latest_is_valid(moto_endpoint, bucket) == before  # still the previous complete run

    again = _publish(settings, bucket, moto_endpoint)  # the store is back
    assert again.success
    assert _latest_is_valid(moto_endpoint, bucket) == again.run_id != good_run
