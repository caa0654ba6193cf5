"""Smoke test of `bench.e2e`: the harness runs the real CLI three times at a tiny size and reports.

Asserts only that it works (three successful runs, the raw-limit legs, the counts cross-check, the
JSON file) — never a time: timings belong to docs/benchmarks.md, not to a test.
Needs MariaDB on 127.0.0.1:3306 (root) and PostgreSQL on 127.0.0.1:5432 (postgres) and the
`mariadb`/`psql` clients; it uses its own databases (`fr_e2e_smoke_300`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import require_binary, require_server

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.bench  # deselected in `make test` to keep CI within its budget; `make bench/smoke`
def test_e2e_harness_reports_three_real_runs(tmp_path):
    require_server("MariaDB", "127.0.0.1", 3306)
    require_server("PostgreSQL", "127.0.0.1", 5432)
    if not shutil.which("mysql"):  # bench.raw_limit takes either client
        require_binary("mariadb")
    require_binary("psql")
    out = tmp_path / "e2e.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.e2e", "--orders", "300", "--db-prefix", "fr_e2e_smoke"]
        + ["--work", str(tmp_path / "work"), "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    (size,) = result["sizes"]
    assert size["orders"] == 300
    assert [r["run"] for r in size["runs"]] == ["full", "no_change", "changed_1pct"]
    for run in size["runs"]:
        assert run["success"], run.get("cause")
        assert run["wall_s"] > 0 and run["peak_rss_mb"] > 0
        assert {"extract", "reconcile", "publish"} <= set(run["stages"])  # the CLI's stage names
    assert size["runs"][2]["changes"]["orders_updated"] == 3  # order_id % 100 = 37 among 1..300
    assert set(size["raw_limit"]["legs"]) == {"raw_orders", "raw_payments", "duckdb_recon"}
    assert size["counts_match_raw"] and size["no_change_counts_same"] and size["changed_counts_match_raw"]
    assert {t["status"] for t in result["targets"]} == {"n/a"}
    assert "targets" in proc.stdout
