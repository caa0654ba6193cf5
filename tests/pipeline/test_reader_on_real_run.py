"""The reader on the store the package's real runs published (no extra run)."""

from __future__ import annotations

import json

from finance_recon.cli import main


def test_report_and_breaks_read_the_real_store(deployment, monkeypatch, capsys):
    monkeypatch.setenv("FINANCE_RECON_HOME", str(deployment.settings.home))
    monkeypatch.delenv("FINANCE_RECON_REPORTS_URI", raising=False)
    later = deployment.runs["later"]
    assert main(["report", "--json", "--last", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run_id"] == later.manifest["run_id"]
    assert doc["as_of"] == later.manifest["as_of"]
    assert doc["breaks"] == later.manifest["breaks"]
    # The rerun shares the first run's as_of, so the chain from "later" is: first-or-rerun, later.
    assert [r["as_of"] for r in doc["trend"]] == [deployment.runs["first"].manifest["as_of"], doc["as_of"]]
    assert doc["trend"][-1]["run_id"] == later.manifest["run_id"]
    if "totals_by_currency" not in later.manifest:  # before the per-currency manifest lands
        assert "not split by currency" in doc["totals_note"]
    assert main(["breaks", "--format", "json"]) == 0
    breaks = json.loads(capsys.readouterr().out)
    assert breaks["count"] == next(
        f["rows"] for f in later.manifest["files"] if f["name"] == "breaks.parquet"
    )
    assert main(["breaks", "--lifecycle", "resolved", "--format", "json"]) == 0
    resolved = json.loads(capsys.readouterr().out)["breaks"]
    assert any(b["order_id"] == deployment.fixed_order for b in resolved)
