"""`finance-recon` as a user runs it: a real process, its exit code and what it prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
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


STAGES = ("extract", "checks", "land", "reconcile", "publish")


def _stage_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.split(" ", 1)[0] in STAGES]


def test_demo_reconciles_and_matches_its_ground_truth(tmp_path):
    result = _cli(["demo", "--orders", "400", "--seed", "3", "--json"], _env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    # stdout is exactly one JSON document: dbt's events and Dagster's logs went to the log file.
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "published" and outcome["ground_truth_matches"] is True
    assert outcome["success"] and outcome["manifest"]["run_id"] == outcome["run_id"]
    assert outcome["cause"] is None and outcome["blocking_failure"] is None
    truth = generate_shop(400, seed=3).expected_counts()
    assert {c: n for c, n in outcome["manifest"]["counts"].items() if n} == truth
    assert (tmp_path / "object-store" / "finance-reports" / "latest.json").exists()


def test_a_run_ending_with_the_fast_exit_leaves_everything_committed_for_the_next(tmp_path):
    """The console script ends with os._exit after `main` (cli.entry): what the run wrote must already
    be on disk. The second run finds the first one's breaks, and both runs' logs end complete."""
    env = _env(tmp_path)
    first = _cli(["demo", "--orders", "120", "--seed", "5", "--json"], env)
    assert first.returncode == 0, first.stderr[-2000:]
    first_as_of = datetime.fromisoformat(json.loads(first.stdout)["manifest"]["as_of"].replace("Z", "+00:00"))
    later = (first_as_of + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # a rerun of the same as_of
    second = _cli(["run", "--as-of", later, "--json"], env)  # would republish that as_of's report

    assert second.returncode == 0, second.stderr[-2000:]
    lifecycle = json.loads(second.stdout)["manifest"]["lifecycle"]
    breaks = json.loads(first.stdout)["manifest"]["breaks"]
    assert breaks > 0 and lifecycle["persisting"] == breaks  # time alone never resolves a break
    logs = sorted((tmp_path / "logs").glob("*.log"))
    assert len(logs) == 2 and all(log.read_bytes().endswith(b"\n") for log in logs)


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
    # stderr: only the failure line (the stage lines are on stdout, the logs in the log file).
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    last = lines[-1]
    assert last.startswith("finance-recon run: FAILED")
    assert "orders" in last and "currency" in last
    log_file = Path(last.rsplit("(log: ", 1)[1].rstrip(")"))
    assert log_file.parent == tmp_path / "logs" and "currency" in log_file.read_text()
    assert _stage_lines(result.stdout)[:2] == ["extract    started", _stage_lines(result.stdout)[1]]
    assert _stage_lines(result.stdout)[1].startswith("extract    FAILED")
    assert not (tmp_path / "object-store" / "finance-reports" / "latest.json").exists()

    # -v: the same failure, with Dagster's log lines on stderr before the one-line cause.
    verbose = _cli(["run", "-v"], _env(tmp_path), timeout=300)
    assert verbose.returncode == 1
    assert " - dagster - " in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("finance-recon run: FAILED")


def _seed_embedded(home: Path, n_orders: int, **kwargs) -> None:
    demo = home / "demo"
    demo.mkdir(parents=True, exist_ok=True)
    shop = generate_shop(n_orders, **kwargs)
    seed_shop(shop, f"duckdb:///{demo / 'oltp.duckdb'}", f"duckdb:///{demo / 'payments.duckdb'}")


def test_run_json_is_one_document_with_warnings_apart_from_the_blocking_failure(tmp_path):
    """Sources two hours behind: the non-blocking source-lag checks fail (ERROR), the report publishes.
    The outcome says published, no cause, no blocking failure, and lists the two warnings."""
    _seed_embedded(tmp_path, 200, seed=5, anchor=datetime.now(UTC) - timedelta(hours=2))
    result = _cli(["run", "--json"], _env(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout)  # the whole of stdout, nothing before or after
    assert outcome["outcome"] == "published" and outcome["success"] is True
    assert outcome["cause"] is None and outcome["blocking_failure"] is None and outcome["failed_checks"] == []
    assert sorted(w["check"] for w in outcome["warnings"]) == [
        "orders_batch:source_lag",
        "payments_batch:source_lag",
    ]
    assert {w["severity"] for w in outcome["warnings"]} == {"ERROR"}
    assert all("updated_at" in w["description"] for w in outcome["warnings"])
    # stderr carries the stage lines only: no dbt, no Dagster log lines, no third-party warnings.
    assert _stage_lines(result.stderr) == result.stderr.strip().splitlines(), result.stderr
    assert [line.split()[:2] for line in _stage_lines(result.stderr)] == [
        [stage, event] for stage in STAGES for event in ("started", "done")
    ]
    assert "Running with dbt=" in Path(outcome["log_file"]).read_text()


def test_demo_prints_stage_lines_and_the_summary_for_people(tmp_path):
    result = _cli(["demo", "--orders", "300", "--seed", "2"], _env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) <= 40, result.stdout
    assert "\x1b" not in result.stdout  # not a terminal: no ANSI codes, no progress bar
    stage = _stage_lines(result.stdout)
    assert len(stage) == 10, stage
    extract_done = next(line for line in stage if line.startswith("extract    done"))
    assert re.search(r"orders 300 rows, payments [\d,]+ rows\s+\d+\.\ds$", extract_done), extract_done
    land_done = next(line for line in stage if line.startswith("land       done"))
    assert re.search(r"orders 300 rows merged, payments [\d,]+ rows merged\s+\d+\.\ds$", land_done), land_done
    assert re.search(r"^publish +done +[\d,]+ items published\s+\d+\.\ds$", stage[-1]), stage[-1]
    assert lines[-1] == "ground truth     every category matches"
    assert not any("dbt" in line or "Warning" in line for line in lines), result.stdout


@pytest.mark.parametrize("command", ["demo", "run", "seed", "metrics", "diagnose", "drill"])
def test_help_exits_0(command, tmp_path):
    result = _cli([command, "--help"], _env(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: finance-recon" in result.stdout


def test_an_unexpected_error_is_one_line_naming_the_log_file_with_the_traceback(tmp_path):
    _seed_embedded(tmp_path, 20, seed=1)
    not_a_folder = tmp_path / "dagster-home-is-a-file"
    not_a_folder.write_text("")
    result = _cli(["run"], _env(tmp_path, DAGSTER_HOME=str(not_a_folder)), timeout=300)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("finance-recon run: failed: FileExistsError: "), lines
    log_file = Path(lines[0].rsplit("(log: ", 1)[1].rstrip(")"))
    assert "Traceback (most recent call last)" in log_file.read_text()


def test_run_json_names_the_blocking_failure_when_a_contract_check_stops_the_report(tmp_path):
    """An order with a negative total: the blocking `orders_batch:contract` check fails, nothing publishes."""
    _seed_embedded(tmp_path, 50, seed=6)
    with duckdb.connect(str(tmp_path / "demo" / "oltp.duckdb")) as conn:
        conn.execute("update orders set total_amount = -1 where order_id = 1")
    result = _cli(["run", "--json"], _env(tmp_path), timeout=600)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "failed" and outcome["success"] is False
    assert outcome["blocking_failure"] == "orders_batch:contract"
    assert "orders_batch:contract" in outcome["failed_checks"] and outcome["cause"]
    assert outcome["manifest"] is None and outcome["report_url"] is None
    assert result.stderr.strip().splitlines()[-1].startswith("finance-recon run: FAILED")
    assert not (tmp_path / "object-store" / "finance-reports" / "latest.json").exists()
