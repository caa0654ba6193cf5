"""The one walk along published runs (`history.walk`) and the readers built on it: the publisher's
chain, newest first; a missing manifest or a loop ends it; the reader's errors name the file."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from finance_recon.report import reader
from finance_recon.report.history import earlier_runs, previous_run, walk
from finance_recon.report.store import LocalReportStore


def _manifest(store, name: str, as_of: str, previous: str | None) -> str:
    key = f"dt=2026-11-20/run={name}/manifest.json"
    body = {"run_id": name, "as_of": as_of, "breaks": 1, "previous_manifest_key": previous}
    store.put(key, json.dumps(body).encode())
    return key


@pytest.fixture
def store(tmp_path):
    """c → b → a (b and c share an as_of: c is a rerun of b)."""
    store = LocalReportStore(tmp_path / "store")
    a = _manifest(store, "a", "2026-11-20T10:00:00+00:00", None)
    b = _manifest(store, "b", "2026-11-20T11:00:00+00:00", a)
    c = _manifest(store, "c", "2026-11-20T11:00:00+00:00", b)
    store.put("latest.json", json.dumps({"manifest_key": c}).encode())
    return store


def test_the_chain_newest_first_and_the_previous_run_by_as_of(store):
    assert [r.run_id for r in walk(store, reader.runs(store, limit=1)[0].manifest_key)] == ["c", "b", "a"]
    assert [r.run_id for r in reader.runs(store)] == ["c", "b", "a"]
    assert [r.run_id for r in reader.runs(store, limit=2)] == ["c", "b"]
    previous = previous_run(store, datetime(2026, 11, 20, 11, tzinfo=UTC))
    assert previous is not None and previous.run_id == "a"
    assert previous_run(store, datetime(2026, 11, 20, 10, tzinfo=UTC)) is None
    latest = reader.runs(store, limit=1)[0]
    # One run per as_of, the newest published for it.
    assert [r.run_id for r in earlier_runs(store, latest, 5)] == ["c", "a"]
    assert [t["run_id"] for t in reader.trend(store, latest, 2)] == ["b", "c"]


def test_a_missing_manifest_or_a_loop_ends_the_walk(store):
    store.put("latest.json", json.dumps({"manifest_key": "dt=2026-11-20/run=x/manifest.json"}).encode())
    _manifest(store, "x", "2026-11-20T12:00:00+00:00", "dt=2026-11-20/run=gone/manifest.json")
    assert [r.run_id for r in reader.runs(store)] == ["x"]
    _manifest(store, "x", "2026-11-20T12:00:00+00:00", "dt=2026-11-20/run=y/manifest.json")
    _manifest(store, "y", "2026-11-20T11:30:00+00:00", "dt=2026-11-20/run=x/manifest.json")
    assert [r.run_id for r in reader.runs(store)] == ["x", "y"]


def test_the_reader_names_the_file_that_breaks_the_contract(store):
    store.put("latest.json", b"{not json")
    with pytest.raises(reader.ReaderError, match=r"latest\.json: not valid JSON"):
        reader.find_run(store, None)
