"""The dbt project compiles for Trino offline, and Trino's own grammar accepts every model.

`dbt compile --target trino --no-populate-cache` needs no server (no model introspects the
database). Each compiled model is then parsed by `trino-query-parser` (the ANTLR grammar of
Trino's SqlBase.g4): a DuckDB-only construct slipping past the dispatch macros fails here, not in
production. Compiled output goes to a temporary target path so dbt_project/target is untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
AS_OF = "2026-11-28T18:00:00+00:00"
MODEL_NAMES = {
    "stg_shop__orders",
    "stg_payments__payments",
    "int_reconciliation_items",
    "int_reconciliation_items_summed",
    "fct_reconciliation_items",
    "rpt_reconciliation_summary",
    "rpt_category_summary",
    "rpt_currency_totals",
}
# DuckDB spellings that Trino's grammar would accept (they are just identifiers or function
# calls) but Trino would reject at analysis time: the dispatch macros must keep them out.
DUCKDB_ONLY = [r"\btimestamptz\b", r"\bto_minutes\s*\(", r"\bdate_sub\s*\(", r"::", r"\bmd5\s*\(\s*item_key"]


def dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


@pytest.fixture(scope="module")
def compiled_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work_dir = tmp_path_factory.mktemp("dbt_trino")
    env = {
        k: v
        for k, v in os.environ.items()
        # Nothing DuckDB-side is needed; keep the DuckDB path unset to prove it.
        if k not in {"FINANCE_RECON_WAREHOUSE_PATH", "FINANCE_RECON_WAREHOUSE_TARGET"}
    }
    env |= {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_VERSION_CHECK": "false"}
    cmd = [
        dbt_executable(),
        "compile",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", "trino",
        "--no-populate-cache",
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--select", "resource_type:model",
        "--indirect-selection", "empty",  # models only, not the data tests attached to them
        "--vars", json.dumps({"as_of": AS_OF}),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    manifest = json.loads((work_dir / "target" / "manifest.json").read_text())
    model_names = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    compiled_files = {p.stem: p for p in (work_dir / "target" / "compiled").rglob("*.sql")}
    assert set(compiled_files) == model_names, "exactly the models are compiled, nothing else"
    return {name: compiled_files[name].read_text() for name in sorted(model_names)}


def test_every_model_compiles_for_trino(compiled_models: dict[str, str]) -> None:
    assert set(compiled_models) == MODEL_NAMES


def test_trino_grammar_accepts_every_compiled_model(compiled_models: dict[str, str]) -> None:
    try:
        from trino_query_parser import TrinoSyntaxError, parse_statement
    except ImportError:  # pragma: no cover - a dev dependency (pyproject [dev])
        pytest.fail("trino-query-parser is not installed: pip install -e '.[dev]'")
    rejected = {}
    for name, sql in compiled_models.items():
        try:
            parse_statement(sql)
        except TrinoSyntaxError as exc:
            rejected[name] = str(exc)[:500]
    assert not rejected, f"Trino's grammar rejects: {rejected}"


def test_the_grammar_check_can_fail() -> None:
    """A control: the parser really rejects what Trino rejects (QUALIFY is DuckDB-only)."""
    from trino_query_parser import TrinoSyntaxError, parse_statement

    with pytest.raises(TrinoSyntaxError):
        parse_statement("select order_id from orders qualify 1")


def test_trino_sql_uses_the_trino_dispatch(compiled_models: dict[str, str]) -> None:
    every_model = "\n".join(compiled_models.values())
    leaked = [pattern for pattern in DUCKDB_ONLY if re.search(pattern, every_model, re.IGNORECASE)]
    assert not leaked, f"DuckDB-only SQL in the Trino compilation: {leaked}"
    # break_id and the grace window are computed where items are classified, the age where they are read.
    assert "lower(to_hex(md5(to_utf8(item_key))))" in compiled_models["int_reconciliation_items"]
    assert "from_iso8601_timestamp_nanos('2026-11-28T18:00:00+00:00')" in compiled_models["stg_shop__orders"]
    assert "date_diff('minute'" in compiled_models["fct_reconciliation_items"]
    assert "date_add('minute', 0 - 60" in compiled_models["int_reconciliation_items"]
