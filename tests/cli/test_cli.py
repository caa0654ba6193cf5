"""`finance-recon` as a user runs it: a real process, its exit code and what it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import seed_shop

CLI = [sys.executable, "-m", "finance_recon"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINANCE_RECON_") and k != "DAGSTER_HOME"}
    env.update(FINANCE_RECON_HOME=str(home), **extra)
    return env


def _cli(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=timeout)


def test_demo_reconciles_and_matches_its_ground_truth(tmp_path):
    result = _cli(["demo", "--orders", "400", "--seed", "3", "--json"], _env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout[result.stdout.index("{") :])
    assert outcome["success"] and outcome["manifest"]["run_id"] == outcome["run_id"]
    truth = generate_shop(400, seed=3).expected_counts()
    assert {c: n for c, n in outcome["manifest"]["counts"].items() if n} == truth
    assert (tmp_path / "object-store" / "finance-reports" / "latest.json").exists()


def test_run_rejects_a_naive_as_of_with_exit_code_2(tmp_path):
    result = _cli(["run", "--as-of", "2026-11-28T10:00:00"], _env(tmp_path), timeout=120)
    assert result.returncode == 2
    assert "no UTC offset" in result.stderr


def test_run_rejects_a_bad_tolerance_with_exit_code_2(tmp_path):
    result = _cli(["run", "--tolerance", "ten"], _env(tmp_path), timeout=120)
    assert result.returncode == 2
    assert "tolerance" in result.stderr


def test_a_failed_run_exits_1_with_one_line_naming_table_and_column(tmp_path):
    """A source that lost a contract column: a permanent failure, no retries, nothing published."""
    shop = generate_shop(50, seed=1)
    demo = tmp_path / "demo"
    demo.mkdir()
    orders_url, payments_url = f"duckdb:///{demo / 'oltp.duckdb'}", f"duckdb:///{demo / 'payments.duckdb'}"
    seed_shop(shop, orders_url, payments_url)
    with duckdb.connect(str(demo / "oltp.duckdb")) as conn:
        conn.execute("alter table orders drop column currency")

    result = _cli(["run"], _env(tmp_path), timeout=300)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("finance-recon run: FAILED")
    assert "orders" in last and "currency" in last
    assert not (tmp_path / "object-store" / "finance-reports" / "latest.json").exists()


@pytest.mark.parametrize("command", ["demo", "run", "seed", "metrics", "diagnose", "drill"])
def test_help_exits_0(command, tmp_path):
    result = _cli([command, "--help"], _env(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: finance-recon" in result.stdout
