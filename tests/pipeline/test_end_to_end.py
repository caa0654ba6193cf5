"""The whole graph on the embedded default: generated shop → extract → dbt → published report.

The runs themselves are made once by the `deployment` fixture (conftest.py); these tests read them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from finance_recon.contracts import BREAK_CATEGORIES, CATEGORIES
from finance_recon.warehouse import connect
from tests.pipeline.conftest import ANCHOR, Deployment

ARTIFACTS = ("breaks.csv", "breaks.parquet", "summary.json", "summary.html")


def test_every_run_succeeded(deployment: Deployment):
    for name, run in deployment.runs.items():
        assert run.success, f"{name}: {run.cause}"
        assert run.manifest["run_id"] == run.run_id


def test_category_counts_equal_the_generators_ground_truth(deployment: Deployment):
    counts = deployment.runs["first"].manifest["counts"]
    expected = deployment.shop.expected_counts()
    assert set(expected) <= set(CATEGORIES)
    assert {c: n for c, n in counts.items() if n} == expected
    # Every one of the 12 categories is present in a 2,000-order shop.
    assert all(counts[c] > 0 for c in CATEGORIES)


def test_each_item_gets_its_ground_truth_category(deployment: Deployment):
    """Row by row, not only in aggregate: a swapped pair of categories would pass a count check."""
    run = deployment.runs["first"]
    breaks = pq.read_table(io.BytesIO(deployment.artifact(run, "breaks.parquet"))).to_pylist()
    truth = {r["item_key"]: r["category"] for r in deployment.shop.ground_truth.to_pylist()}
    assert breaks, "the shop has breaks"
    for row in breaks:
        assert row["category"] == truth[row["item_key"]], row["item_key"]
    assert len(breaks) == sum(1 for c in truth.values() if c in BREAK_CATEGORIES)


def test_manifest_lists_every_file_with_size_sha256_and_rows(deployment: Deployment):
    run = deployment.runs["first"]
    manifest = run.manifest
    assert [f["name"] for f in manifest["files"]] == list(ARTIFACTS)
    for entry in manifest["files"]:
        data = deployment.store.get(entry["key"])
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["key"].startswith(f"dt=2026-11-02/run={run.run_id}/")
    assert manifest["files"][0]["rows"] == manifest["breaks"]
    assert manifest["as_of"] == "2026-11-02T09:30:00Z"
    assert manifest["verdict"] == "breaks"
    assert manifest["watermarks"]["orders_max_updated_at"] <= manifest["as_of"]


def test_manifest_is_written_after_the_artifacts_and_latest_after_it(deployment: Deployment):
    run = deployment.runs["later"]
    root = Path(deployment.settings.reports_uri)
    manifest_key = next(iter(run.manifest["files"]))["key"].rsplit("/", 1)[0] + "/manifest.json"
    manifest_time = (root / manifest_key).stat().st_mtime_ns
    for entry in run.manifest["files"]:
        assert (root / entry["key"]).stat().st_mtime_ns <= manifest_time
    assert manifest_time <= (root / "latest.json").stat().st_mtime_ns
    latest = json.loads((root / "latest.json").read_text())
    assert latest["run_id"] == run.run_id and latest["manifest_key"] == manifest_key


def test_a_rerun_with_the_same_as_of_is_byte_identical(deployment: Deployment):
    first, rerun = deployment.runs["first"], deployment.runs["rerun"]
    assert first.run_id != rerun.run_id
    for name in ARTIFACTS:
        assert deployment.artifact(first, name) == deployment.artifact(rerun, name), name
    # Both compared against the same (absent) previous run, so every break is new in both.
    assert rerun.manifest["lifecycle"] == {"new": rerun.manifest["breaks"], "persisting": 0, "resolved": 0}


def test_break_lifecycle_against_the_previous_run(deployment: Deployment):
    later = deployment.runs["later"]
    first = deployment.runs["first"]
    rows = pq.read_table(io.BytesIO(deployment.artifact(later, "breaks.parquet"))).to_pylist()
    by_key = {r["item_key"]: r for r in rows}
    fixed = by_key[f"order:{deployment.fixed_order}"]
    assert fixed["lifecycle"] == "resolved"
    assert fixed["category"] == "matched" and fixed["previous_category"] == "missing_payment"
    assert fixed["difference"] == Decimal("0.00")
    persisting = [r for r in rows if r["lifecycle"] == "persisting"]
    assert len(persisting) == first.manifest["breaks"] - 1
    assert all(r["first_seen_at"] == ANCHOR for r in persisting)
    assert later.manifest["previous_run_id"] == deployment.runs["rerun"].run_id
    assert later.manifest["counts"]["missing_payment"] == first.manifest["counts"]["missing_payment"] - 1


def test_report_table_has_one_row_per_run(deployment: Deployment):
    with connect(deployment.settings.warehouse_path, read_only=True) as conn:
        rows = conn.execute(
            "select run_id, as_of, verdict, count_matched, run_ended_at "
            "from finance_reconciliation_report order by run_ended_at"
        ).fetchall()
        totals = conn.execute(
            "select currency, total_expected from finance_reconciliation_report_totals where run_id = ? "
            "order by currency",
            [deployment.runs["first"].run_id],
        ).fetchall()
        newest = conn.execute("select max(run_ended_at) from finance_reconciliation_report").fetchone()[0]
    assert [r[0] for r in rows] == [run.run_id for run in deployment.runs.values()]
    assert newest == rows[-1][4] and newest.tzinfo is not None
    first = deployment.runs["first"].manifest
    assert rows[0][3] == first["counts"]["matched"]
    assert totals == [(t["currency"], Decimal(t["total_expected"])) for t in first["totals_by_currency"]]


def test_amounts_in_artifacts_are_decimal_strings(deployment: Deployment):
    run = deployment.runs["first"]
    summary = json.loads(deployment.artifact(run, "summary.json"))
    assert summary["totals_by_currency"]
    for totals in summary["totals_by_currency"]:
        for name in ("total_expected", "total_net", "break_amount"):
            value = totals[name]
            assert isinstance(value, str) and Decimal(value) == Decimal(value).quantize(Decimal("0.01"))
    rows = list(csv.DictReader(io.StringIO(deployment.artifact(run, "breaks.csv").decode())))
    for column in ("expected", "net", "difference", "captured", "reversed"):
        assert rows[0][column] and "e" not in rows[0][column].lower()
        assert Decimal(rows[0][column]) == Decimal(rows[0][column]).quantize(Decimal("0.01"))
    # spreadsheet-parseable UTC times, the header saying UTC (contracts §3)
    assert datetime.strptime(rows[0]["created_at_utc"], "%Y-%m-%d %H:%M:%S")
    # evidence: a duplicate_charge names both of its payments
    duplicates = [r for r in rows if r["category"] == "duplicate_charge"]
    assert duplicates and all(len(r["payment_ids"].split(";")) >= 2 for r in duplicates)
    assert all(int(r["n_charges"]) >= 2 and r["customer_id"] for r in duplicates)
    schema = pq.read_schema(io.BytesIO(deployment.artifact(run, "breaks.parquet")))
    assert str(schema.field("difference").type) == "decimal128(38, 2)"


def test_every_manifest_records_the_break_continuity_identity(deployment: Deployment):
    later = deployment.runs["later"].manifest
    continuity = later["continuity"]
    # open now = previous open + new − resolved, against the rerun's published breaks.
    assert continuity["previous_open"] == deployment.runs["rerun"].manifest["breaks"]
    assert continuity["resolved"] >= 1 and continuity["holds"] is True
    assert (
        continuity["open"]
        == later["breaks"]
        == (continuity["previous_open"] + continuity["new"] - continuity["resolved"])
    )


def test_a_continuity_violation_names_the_counts():
    from finance_recon.report.continuity import Continuity

    broken = Continuity(previous_open=10, new=2, resolved=1, open_now=12)
    assert not broken.holds
    assert "open breaks 12 ≠ previous open 10 + new 2 − resolved 1 (= 11)" in broken.violation()
    assert Continuity(previous_open=10, new=2, resolved=1, open_now=11).holds
