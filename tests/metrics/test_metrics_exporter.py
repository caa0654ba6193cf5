"""`read_latest` on a local and an S3 store, the exporter process over HTTP, and `promtool check metrics`."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from finance_recon.cli import metrics as metrics_cli
from finance_recon.metrics import read_latest
from finance_recon.metrics.latest import open_report_store
from finance_recon.metrics.server import build_registry
from finance_recon.report.store import LocalReportStore, StoreError
from finance_recon.settings import load_settings
from tests.metrics.metrics_helpers import publish_report, require_binary
from tests.services import free_port  # noqa: F401 (shared helpers)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The one promtool lint we accept: the name is fixed by the runbook (environment.md).
ACCEPTED_LINT = 'finance_reconciliation_age_minutes use base unit "seconds" instead of "minutes"'


def test_read_latest_from_a_local_store(monkeypatch, tmp_path):
    root = tmp_path / "finance-reports"
    monkeypatch.setenv("FINANCE_RECON_REPORTS_URI", str(root))
    assert read_latest(load_settings()) is None  # nothing published yet
    ended = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    key = publish_report(LocalReportStore(root), "run-7", ended, counts={"matched": 3, "refund_due": 1})
    report = read_latest(load_settings())
    assert report is not None
    assert (report.run_id, report.manifest_key, report.verdict) == ("run-7", key, "breaks")
    assert report.run_ended_at == ended
    assert report.counts["refund_due"] == 1
    assert str(report.totals_by_currency["USD"]["break_amount"]) == "34.50"
    assert str(report.totals_by_currency["EUR"]["total_expected"]) == "10.00"
    assert report.manifest_url.startswith("file://")


def test_read_latest_from_s3(monkeypatch, s3_env):
    endpoint, bucket = s3_env
    monkeypatch.setenv("FINANCE_RECON_REPORTS_URI", f"s3://{bucket}/finance-reports")
    monkeypatch.setenv("FINANCE_RECON_S3_ENDPOINT_URL", endpoint)
    settings = load_settings()
    assert read_latest(settings) is None
    ended = datetime.now(UTC) - timedelta(minutes=3)
    publish_report(
        open_report_store(settings), "run-s3", ended, payments_max_updated_at=ended - timedelta(minutes=9)
    )
    report = read_latest(settings)
    assert report is not None and report.run_id == "run-s3"
    assert report.manifest_url == f"{endpoint}/{bucket}/finance-reports/{report.manifest_key}"
    assert 2.9 * 60 < report.age_seconds() < 4 * 60


def test_s3_endpoint_down_raises_store_error_and_the_collector_survives(monkeypatch, s3_env):
    _, bucket = s3_env
    monkeypatch.setenv("FINANCE_RECON_REPORTS_URI", f"s3://{bucket}/finance-reports")
    monkeypatch.setenv("FINANCE_RECON_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    settings = load_settings()
    with pytest.raises(StoreError):
        read_latest(settings)
    registry = build_registry(open_report_store(settings))
    assert registry.get_sample_value("finance_reconciliation_scrape_error") == 1
    assert registry.get_sample_value("finance_reconciliation_report_up") == 0


def test_s3_missing_bucket_is_a_store_error(monkeypatch, s3_env):
    endpoint, _ = s3_env
    monkeypatch.setenv("FINANCE_RECON_REPORTS_URI", "s3://no-such-bucket/finance-reports")
    monkeypatch.setenv("FINANCE_RECON_S3_ENDPOINT_URL", endpoint)
    with pytest.raises(StoreError):
        read_latest(load_settings())


def test_cli_registers_metrics_serve():
    parser = argparse.ArgumentParser(prog="finance-recon")
    metrics_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["metrics", "serve"])
    assert (args.host, args.port) == ("127.0.0.1", 9108)
    assert callable(args.handler)
    args = parser.parse_args(["metrics", "serve", "--port", "9200", "--host", "0.0.0.0"])
    assert (args.host, args.port) == ("0.0.0.0", 9200)


# The two ways to start the exporter: the stand-alone module and the platform CLI (`finance-recon`).
ENTRY_POINTS = {
    "module": [sys.executable, "-m", "finance_recon.metrics"],
    "cli": [
        sys.executable,
        "-c",
        "import sys; from finance_recon.cli import main; sys.exit(main())",
        "metrics",
    ],
}


def start_exporter(reports_uri: str, entry: str = "module") -> tuple[subprocess.Popen, str]:
    """`... serve --port 0` on 127.0.0.1; returns (process, metrics URL)."""
    proc = subprocess.Popen(
        [
            *ENTRY_POINTS[entry],
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--reports-uri",
            reports_uri,
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "serving http://" in line:
            return proc, line.split("serving ", 1)[1].split()[0]
    proc.kill()
    raise AssertionError(f"exporter did not start: {proc.stdout.read()}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_exporter_process_output_passes_promtool_check_metrics(tmp_path, entry):
    promtool = require_binary("promtool")
    root = tmp_path / "finance-reports"
    ended = datetime.now(UTC) - timedelta(minutes=45)
    publish_report(
        LocalReportStore(root),
        "run-1",
        ended,
        counts={"matched": 4, "duplicate_charge": 1},
        orders_max_updated_at=ended - timedelta(minutes=1),
        payments_max_updated_at=ended - timedelta(minutes=2),
    )
    proc, url = start_exporter(str(root), entry)
    try:
        first = requests.get(url, timeout=10)
        assert first.status_code == 200
        assert "finance_reconciliation_age_minutes 4" in first.text  # ~45 minutes
        result = subprocess.run(
            [promtool, "check", "metrics"], input=first.text, capture_output=True, text=True, timeout=30
        )
        problems = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if line.strip() and line.strip() != ACCEPTED_LINT
        ]
        assert problems == [], problems
        assert result.returncode in (0, 3), result  # 3 = lint problems only (the accepted one)

        # The store disappears: the exporter keeps answering and says so.
        (root / "latest.json").unlink()
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        root.rmdir()
        root.write_text("not a folder")
        broken = requests.get(url, timeout=10)
        assert broken.status_code == 200
        assert "finance_reconciliation_scrape_error 1.0" in broken.text
        assert "\nfinance_reconciliation_age_minutes " not in broken.text  # left out, so absent() fires
        assert proc.poll() is None
    finally:
        stop(proc)
    assert proc.returncode == 0  # SIGTERM is a clean shutdown
