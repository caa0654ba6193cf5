"""A two-day backfill of the daily close on the package's shop: two closes, the rolling report untouched."""

from __future__ import annotations

import json

from finance_recon.cli import main
from finance_recon.report.store import LocalReportStore


def test_two_day_backfill_publishes_two_closes(deployment, monkeypatch, capsys):
    monkeypatch.setenv("FINANCE_RECON_HOME", str(deployment.settings.home))
    monkeypatch.delenv("FINANCE_RECON_REPORTS_URI", raising=False)
    store = LocalReportStore(deployment.settings.reports_uri)
    rolling_latest = store.get("latest.json")
    code = main(["close", "--from", "2026-10-31", "--to", "2026-11-01", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    results = json.loads(out)["closes"]
    assert [r["date"] for r in results] == ["2026-10-31", "2026-11-01"]
    for day, as_of in (("2026-10-31", "2026-11-01T00:00:00Z"), ("2026-11-01", "2026-11-02T00:00:00Z")):
        manifest = json.loads(store.get(f"close/dt={day}/manifest.json"))
        assert manifest["as_of"] == as_of
        assert manifest["close"] == {"date": day, "timezone": "UTC", "cutoff": as_of}
        for entry in manifest["files"]:
            assert entry["key"].startswith(f"close/dt={day}/")
            assert len(store.get(entry["key"])) == entry["bytes"]
    assert json.loads(store.get("close/latest.json"))["date"] == "2026-11-01"
    assert store.get("latest.json") == rolling_latest  # the rolling report is left alone
    assert main(["report", "--closes", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["closes"]
    assert [(c["date"], c["as_of"]) for c in listed] == [
        ("2026-10-31", "2026-11-01T00:00:00Z"),
        ("2026-11-01", "2026-11-02T00:00:00Z"),
    ]
