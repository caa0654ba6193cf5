"""What the Dagster UI shows and how it runs the job: the configured engine, one process per run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import seed_shop

from .test_cli import _env

_KINDS = """
import json
from finance_recon.definitions import defs
kinds = {}
for assets_def in defs.assets:
    for spec in getattr(assets_def, "specs", []):
        if "dbt" in spec.kinds or spec.key.to_user_string() == "finance_reconciliation_report":
            kinds[spec.key.to_user_string()] = [sorted(spec.kinds), spec.metadata.get("dagster/storage_kind")]
print(json.dumps(kinds))
"""


def _dbt_kinds(home: Path, target: str | None) -> dict[str, list]:
    env = _env(home, **({"FINANCE_RECON_WAREHOUSE_TARGET": target} if target else {}))
    result = subprocess.run(
        [sys.executable, "-c", _KINDS], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dbt_assets_show_the_configured_engine_not_the_prepared_manifests(tmp_path):
    # The manifest is prepared once (for the default DuckDB target); the kinds follow the settings:
    # the engine that runs the model and the storage that holds it (Iceberg tables on Trino).
    for target, engine, storage in ((None, "duckdb", "duckdb"), ("trino", "trino", "iceberg")):
        kinds = _dbt_kinds(tmp_path, target)
        assert "fct_reconciliation_items" in kinds and "rpt_reconciliation_summary" in kinds
        # The report's row is in the warehouse's report table, its files in the report store.
        report_kinds, _ = kinds.pop("finance_reconciliation_report")
        assert report_kinds == sorted({storage, "s3", "parquet"}), (target, report_kinds)
        for key, (asset_kinds, storage_kind) in kinds.items():
            assert asset_kinds == sorted({"dbt", engine, storage}), (target, key, asset_kinds)
            assert storage_kind == storage, (target, key)


def test_a_launched_run_executes_every_step_in_one_process(tmp_path):
    """`dagster job execute` honours the job's executor, as the run worker of a scheduled or UI run does
    (the CLI's execute_in_process always runs in-process). One pid for every step: no interpreter
    started per step, which made daemon runs ~5× slower than the CLI's."""
    demo = tmp_path / "demo"
    demo.mkdir()
    seed_shop(
        generate_shop(100, seed=4),
        f"duckdb:///{demo / 'oltp.duckdb'}",
        f"duckdb:///{demo / 'payments.duckdb'}",
    )
    env = _env(tmp_path, DAGSTER_HOME=str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "job", "execute", "-m", "finance_recon.definitions", "-j", "finance_reconciliation"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    script = """
import json
from dagster import DagsterEventType, DagsterInstance
instance = DagsterInstance.get()
run = instance.get_runs(limit=1)[0]
records = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START)
print(json.dumps({"status": run.status.value, "pids": {r.dagster_event.step_key: r.dagster_event.pid for r in records}}))
"""
    facts = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert facts.returncode == 0, facts.stderr[-2000:]
    found = json.loads(facts.stdout.strip().splitlines()[-1])
    assert found["status"] == "SUCCESS"
    assert {
        "source_batches",  # every table's batch, read at once (issue 27)
        "orders",
        "payments",
        "reconciliation_dbt_models",
        "finance_reconciliation_report",
    } <= set(found["pids"])
    assert len(set(found["pids"].values())) == 1, found["pids"]
