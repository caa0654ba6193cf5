"""`diagnose`'s write probe of the report store leaves the store as it found it (issue 25: it left
`_probe/diagnose.txt` behind), on a folder and on a real S3 API (moto), and still tells a store
that refuses writes from a writable one (tests/runbook/test_root_causes.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from finance_recon.report.store import LocalReportStore, S3ReportStore
from finance_recon.runbook.probes import probe_store
from tests.runbook.helpers import moto_server, s3_client

NOW = datetime(2026, 12, 7, 2, 41, tzinfo=UTC)


def _settings(uri: str, endpoint: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(reports_uri=uri, reports_are_s3=uri.startswith("s3://"), s3_endpoint_url=endpoint)


def test_the_write_probe_leaves_nothing_in_a_folder_store(tmp_path):
    root = tmp_path / "finance-reports"
    store = LocalReportStore(root)
    store.put("dt=2026-12-07/run=r1/summary.json", b"{}")
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))

    probe = probe_store(_settings(str(root)), NOW, store=store)

    assert probe.read_ok is True and probe.write_ok is True, probe
    assert probe.notes == []
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before  # no _probe/ at all
    assert store.list_keys() == ["dt=2026-12-07/run=r1/summary.json"]


def test_the_write_probe_leaves_nothing_in_an_s3_store():
    with moto_server() as (_server, endpoint):
        client = s3_client(endpoint)
        client.create_bucket(Bucket="finance-reports-probe")
        client.put_object(Bucket="finance-reports-probe", Key="finance-reports/latest.json", Body=b"{}")
        store = S3ReportStore("s3://finance-reports-probe/finance-reports", client, endpoint)

        probe = probe_store(_settings(store.uri, endpoint), NOW, store=store)

        listed = client.list_objects_v2(Bucket="finance-reports-probe").get("Contents", [])
    assert probe.write_ok is True, probe
    assert [o["Key"] for o in listed] == ["finance-reports/latest.json"]
