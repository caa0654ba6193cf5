"""The report's own check (`finance_reconciliation_report:publication`) on a real local report
store: two runs published by `publish`, then the store tampered with as a fault would leave it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from finance_recon.report.history import LATEST_KEY, PublishedRun
from finance_recon.report.publication_check import verify_publication
from finance_recon.report.publish import publish
from finance_recon.report.render import Artifact
from finance_recon.report.store import LocalReportStore

AS_OF = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _publish(store, run_id, as_of, previous, *, previous_open, new, resolved):
    open_now = previous_open + new - resolved
    artifacts = [
        Artifact("breaks.csv", f"break_id\n{run_id}\n".encode(), "text/csv", rows=1),
        Artifact("breaks.parquet", b"PAR1" + run_id.encode(), "application/octet-stream", rows=1),
        Artifact("summary.json", json.dumps({"run": run_id}).encode(), "application/json"),
        Artifact("summary.html", f"<p>{run_id}</p>".encode(), "text/html"),
    ]
    continuity = {"previous_open": previous_open, "new": new, "resolved": resolved, "open": open_now}
    return publish(
        store,
        run_id=run_id,
        as_of=as_of,
        artifacts=artifacts,
        manifest_fields={"breaks": open_now, "continuity": {**continuity, "holds": True}},
        run_ended_at=as_of,
        previous=previous,
    )


@pytest.fixture
def published(tmp_path):
    store = LocalReportStore(tmp_path / "finance-reports")
    first = _publish(store, "run-1", AS_OF - timedelta(hours=1), None, previous_open=0, new=3, resolved=0)
    previous = PublishedRun(first.manifest_key, first.manifest)
    second = _publish(store, "run-2", AS_OF, previous, previous_open=3, new=2, resolved=1)
    return store, second


def test_a_complete_publication_passes(published):
    store, publication = published
    result = verify_publication(store, "run-2", publication.manifest_key)
    assert result.passed, result.description
    assert result.metadata["files_verified"].text == "breaks.csv, breaks.parquet, summary.html, summary.json"


def test_latest_naming_another_run_fails(published):
    store, publication = published
    result = verify_publication(store, "run-1", publication.manifest_key.replace("run-2", "run-1"))
    assert not result.passed
    assert "latest.json names run run-2, not this report's run run-1" in result.description


def test_a_changed_artifact_fails_naming_it(published):
    store, publication = published
    key = next(f["key"] for f in publication.manifest["files"] if f["name"] == "summary.html")
    store.put(key, b"<p>edited</p>")
    result = verify_publication(store, "run-2", publication.manifest_key)
    assert not result.passed
    assert "summary.html differs from its manifest entry" in result.description


def test_a_missing_artifact_and_an_unlisted_one_fail(published):
    store, publication = published
    manifest = dict(publication.manifest)
    manifest["files"] = [f for f in manifest["files"] if f["name"] != "breaks.parquet"]
    store.put(publication.manifest_key, json.dumps(manifest).encode())
    store.delete(next(f["key"] for f in manifest["files"] if f["name"] == "breaks.csv"))
    result = verify_publication(store, "run-2", publication.manifest_key)
    assert not result.passed
    assert "the manifest lists no breaks.parquet" in result.description
    assert "breaks.csv is listed but missing from the store" in result.description


def test_broken_continuity_fails(published):
    store, publication = published
    manifest = json.loads(store.get(publication.manifest_key))
    manifest["continuity"]["previous_open"] = 2  # the previous run published 3
    manifest["continuity"]["new"] = 3  # 2 + 3 − 1 = 4 = open: the identity alone still holds
    store.put(publication.manifest_key, json.dumps(manifest).encode())
    result = verify_publication(store, "run-2", publication.manifest_key)
    assert not result.passed
    assert "previous open breaks 2 ≠ the 3 the previous run (run-1) published" in result.description


def test_no_latest_fails(published):
    store, publication = published
    store.delete(LATEST_KEY)
    result = verify_publication(store, "run-2", publication.manifest_key)
    assert not result.passed and "latest.json is missing" in result.description
