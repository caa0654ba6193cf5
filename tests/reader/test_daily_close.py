"""`finance-recon close` end to end on a seeded demo deployment: a two-day backfill publishes two
closes under close/dt=D/, each cut off at the end of its day; close/latest.json names the newest
closed day and never moves back; the rolling report is left byte for byte as it was; the reader
lists the closes. Each day is a materialization of that day's partition of the close asset in the
deployment's Dagster instance (what the UI lists), and the rolling report asset gains none."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from finance_recon.names import CLOSE_KEY, REPORT_KEY
from finance_recon.report.close import cutoff
from tests.runbook.helpers import cli, home_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> tuple[dict[str, str], Path]:
    home = tmp_path_factory.mktemp("daily-close") / "home"
    env = home_env(home)
    seed = cli(["seed", "--orders", "300", "--seed", "9", "--no-progress"], env, timeout=300)
    assert seed.returncode == 0, seed.stderr[-2000:]
    run = cli(["run"], env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return env, home / "object-store" / "finance-reports"  # the default local store


def _materializations(env: dict[str, str], key) -> list:
    with DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        return [
            r.event_log_entry.asset_materialization
            for r in instance.fetch_materializations(key, limit=100).records
        ]


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_a_two_day_backfill_publishes_two_closes(deployment):
    env, root = deployment
    rolling_before = (root / "latest.json").read_bytes()
    reports_before = len(_materializations(env, REPORT_KEY))
    today = datetime.now(UTC).date()
    first, second = today - timedelta(days=2), today - timedelta(days=1)

    proc = cli(["close", "--from", first.isoformat(), "--to", second.isoformat(), "--json"], env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(proc.stdout)["closes"]
    assert [(r["date"], r["outcome"]) for r in results] == [
        (first.isoformat(), "published"),
        (second.isoformat(), "published"),
    ]
    assert all(r["report_url"].endswith(f"close/dt%3D{r['date']}/summary.html") for r in results)
    assert all(sum(r["counts"].values()) > 0 for r in results)
    for day in (first, second):
        manifest = _json(root / "close" / f"dt={day.isoformat()}" / "manifest.json")
        want = cutoff(day, "UTC")
        assert datetime.fromisoformat(manifest["as_of"].replace("Z", "+00:00")) == want
        assert manifest["close"] == {"date": day.isoformat(), "timezone": "UTC", "cutoff": manifest["as_of"]}
        names = {f["name"] for f in manifest["files"]}
        assert names == {"breaks.csv", "breaks.parquet", "summary.json", "summary.html"}
        for entry in manifest["files"]:  # every file the close manifest names is there, under close/
            assert entry["key"].startswith(f"close/dt={day.isoformat()}/")
            assert (root / entry["key"]).stat().st_size == entry["bytes"]
        assert all("currency" in t for t in manifest["totals_by_currency"])
    assert _json(root / "close" / "latest.json")["date"] == second.isoformat()
    # The rolling report is the close's business not at all.
    assert (root / "latest.json").read_bytes() == rolling_before
    assert len(_materializations(env, REPORT_KEY)) == reports_before
    closes = _materializations(env, CLOSE_KEY)
    assert sorted(m.partition for m in closes) == [first.isoformat(), second.isoformat()]
    for m in closes:
        assert m.metadata["manifest_key"].value == f"close/dt={m.partition}/manifest.json"
        assert m.metadata["report"].value.endswith(f"close/dt%3D{m.partition}/summary.html")

    listed = cli(["report", "--closes", "--json"], env, timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    closes = json.loads(listed.stdout)["closes"]
    assert [c["date"] for c in closes] == [first.isoformat(), second.isoformat()]


def test_closing_an_older_day_again_never_moves_the_latest_close_back(deployment):
    env, root = deployment
    newest = _json(root / "close" / "latest.json")["date"]
    older = date.fromisoformat(newest) - timedelta(days=1)
    proc = cli(["close", "--date", older.isoformat()], env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _json(root / "close" / "latest.json")["date"] == newest
    # Issue 25: the terminal says what was closed (its counts) and where it is (the page's link).
    manifest = _json(root / "close" / f"dt={older.isoformat()}" / "manifest.json")
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"close {older.isoformat()}  as_of {manifest['as_of']}  published  verdict ")
    assert f"  items    {sum(manifest['counts'].values())}, breaks {manifest['breaks']}" in lines
    [counts] = [line for line in lines if line.startswith("  counts   ")]
    assert f"matched {manifest['counts']['matched']}" in counts
    assert f"duplicate_charge * {manifest['counts']['duplicate_charge']}" in counts
    for t in manifest["totals_by_currency"]:
        assert any(line.startswith(f"  {t['currency']} ") and t["total_net"] in line for line in lines)
    [report] = [line for line in lines if line.startswith("  report   ")]
    page = root / "close" / f"dt={older.isoformat()}" / "summary.html"
    assert report.split()[-1] == page.as_uri().replace("dt=", "dt%3D") and page.is_file()


def test_a_day_not_over_yet_is_refused_with_the_flag_named(deployment):
    env, _ = deployment
    proc = cli(["close", "--date", datetime.now(UTC).date().isoformat()], env, timeout=120)
    assert proc.returncode != 0
    assert "--date" in proc.stderr and "not over yet" in proc.stderr


def test_a_day_before_the_close_partitions_is_refused_naming_the_variable(deployment):
    env, _ = deployment
    proc = cli(["close", "--date", "2025-12-31"], env, timeout=120)
    assert proc.returncode == 2
    assert "FINANCE_RECON_CLOSE_START_DATE" in proc.stderr and "2026-01-01" in proc.stderr


def test_a_failed_day_stops_the_backfill_with_its_cause_in_one_line(deployment):
    env, root = deployment
    today = datetime.now(UTC).date()
    first, second = today - timedelta(days=4), today - timedelta(days=3)
    broken = {
        **env,
        "FINANCE_RECON_PAYMENTS_URL": "postgresql://postgres@127.0.0.1:5432/no_such_db_finance_close",
    }
    proc = cli(
        ["close", "--from", first.isoformat(), "--to", second.isoformat(), "--json"], broken, timeout=600
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(proc.stdout)["closes"]
    assert [(r["date"], r["outcome"]) for r in results] == [(first.isoformat(), "failed")]  # stopped there
    cause = results[0]["cause"]
    assert "\n" not in cause and "payments" in cause and "no_such_db_finance_close" in cause
    assert not (root / "close" / f"dt={first.isoformat()}").exists()
    assert not (root / "close" / f"dt={second.isoformat()}").exists()
