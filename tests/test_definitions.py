"""The code location loads, validates, stays light, and its graph does not change by accident."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
ASSET_GROUP = "finance_reconciliation"
BIN = Path(sys.executable).parent


def _graph_snapshot() -> dict:
    from finance_recon.definitions import defs

    graph = defs.resolve_asset_graph()
    snapshot = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        snapshot[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "owners": sorted(node.owners),
            "is_materializable": node.is_materializable,
            "freshness": bool(getattr(node, "freshness_policy", None)),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return snapshot


def test_definitions_load_with_the_lineage_the_product_promises():
    graph = _graph_snapshot()
    # Per source its batch (read, with the blocking contract check) and the landed table it feeds.
    assert graph["orders_batch"]["deps"] == [] and graph["payments_batch"]["deps"] == []
    assert graph["orders"]["deps"] == ["orders_batch"] and graph["payments"]["deps"] == ["payments_batch"]
    assert graph["orders_batch"]["checks"] == ["contract", "source_lag"]
    assert graph["orders"]["checks"] == [] and graph["orders"]["freshness"]
    assert "orders" in graph["stg_shop__orders"]["deps"]
    assert "payments" in graph["stg_payments__payments"]["deps"]
    assert set(graph["finance_reconciliation_report"]["deps"]) >= {
        "fct_reconciliation_items",
        "rpt_reconciliation_summary",
    }
    # One group: with two or more, the UI's global lineage opens collapsed to group boxes (issue 25).
    for key, node in graph.items():
        assert node["group"] == ASSET_GROUP, key
        assert node["owners"], key


def test_the_dbt_assets_columns_carry_the_types_dbt_knows():
    """Issue 25: the Columns table of a dbt asset had names and no types. Every documented column
    of the models has its `data_type` in YAML, and the UI's column schema shows it."""
    from dagster import TableSchema

    from finance_recon.definitions import defs
    from finance_recon.reconciliation.assets import build_reconciliation_dbt_models
    from finance_recon.settings import Settings

    reconciliation_dbt_models = build_reconciliation_dbt_models(Settings.from_values())

    graph = defs.resolve_asset_graph()
    expected = {
        "fct_reconciliation_items": {
            "item_key": "varchar",
            "order_id": "bigint",
            "expected": "decimal(38,2)",
        },
        "rpt_currency_totals": {"currency": "varchar", "break_amount": "decimal(38,2)"},
        "stg_shop__orders": {"created_at": "timestamp with time zone"},
    }
    schemas = {
        key: graph.get(key).metadata.get("dagster/column_schema") for key in reconciliation_dbt_models.keys
    }
    documented = {key: schema for key, schema in schemas.items() if isinstance(schema, TableSchema)}
    # every dbt model documents its columns (8 since issue 26 folded the rules' three views into the items)
    assert len(documented) == len(schemas) >= 8, sorted(k.to_user_string() for k in documented)
    for key, schema in documented.items():
        untyped = [c.name for c in schema.columns if not c.type or c.type == "?"]
        assert not untyped, (key, untyped)
        types = {c.name: c.type for c in schema.columns}
        for column, type_ in expected.get(key.to_user_string(), {}).items():
            assert types[column] == type_, (key, column, types)


def test_asset_graph_matches_the_reviewed_snapshot():
    """Keys, deps, groups, owners, checks: a change here must be a deliberate change to the snapshot.

    Regenerate with `FINANCE_RECON_UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py`.
    """
    current = _graph_snapshot()
    if os.environ.get("FINANCE_RECON_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_dagster_definitions_validate_accepts_the_workspace():
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_loading_definitions_does_not_import_heavy_optional_libraries():
    # dbt is no longer in this list: dagster-dbt imports dbt-core's modules when dbt-core is installed
    # and is imported as it is (issue 26: no sys.modules tricks; the cost is in docs/benchmarks.md).
    code = (
        "import sys, finance_recon.definitions as d; "
        "print(','.join(m for m in ('great_expectations', 'pyspark', 'psycopg2', 'pymysql') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_daily_close_is_a_partitioned_asset_with_its_own_job(monkeypatch):
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from finance_recon.definitions import build_definitions
    from finance_recon.names import CLOSE_JOB_NAME, CLOSE_KEY, RECONCILIATION_JOB_NAME
    from finance_recon.settings import load_settings

    monkeypatch.setenv("FINANCE_RECON_CLOSE_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("FINANCE_RECON_CLOSE_START_DATE", "2026-06-01")
    defs = build_definitions(load_settings())
    close = defs.resolve_job_def(CLOSE_JOB_NAME)
    partitions = close.partitions_def
    assert partitions.timezone == "Asia/Tokyo"
    keys = partitions.get_partition_keys()
    yesterday_in_tokyo = (datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo")) - timedelta(days=1)).date()
    assert keys[0] == "2026-06-01" and keys[-1] == yesterday_in_tokyo.isoformat()  # today is not closable yet
    assert close.executor_def.name == "in_process"  # never the rolling run lock (runs/exclusive.py)
    rolling = defs.resolve_job_def(RECONCILIATION_JOB_NAME)
    assert rolling.partitions_def is None
    assert CLOSE_KEY not in rolling.asset_layer.executable_asset_keys
    # The asset whose partitions the job materializes (its one step reports them: tests/reader/
    # test_daily_close.py), external, so that no asset job, nor the UI's "Materialize all", runs it.
    asset = defs.resolve_asset_graph().get(CLOSE_KEY)
    assert asset.partitions_def == partitions and not asset.is_executable


def test_a_bad_close_start_date_names_its_variable(monkeypatch):
    import pytest

    from finance_recon.settings import SettingsError, load_settings

    monkeypatch.setenv("FINANCE_RECON_CLOSE_START_DATE", "first of June")
    with pytest.raises(SettingsError, match="FINANCE_RECON_CLOSE_START_DATE"):
        load_settings()


def test_the_warehouse_memory_limit_reaches_the_report_connection_and_names_its_variable(
    monkeypatch, tmp_path
):
    import pytest

    from finance_recon.resources import build_resources
    from finance_recon.settings import SettingsError, load_settings

    monkeypatch.setenv("FINANCE_RECON_WAREHOUSE_MEMORY_LIMIT", "300MiB")
    monkeypatch.setenv("FINANCE_RECON_WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    warehouse = build_resources(load_settings())["warehouse"]
    with warehouse.connection(spill_to=tmp_path / "spill") as conn:
        limit, spill = conn.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert limit.startswith("300") and spill == str(tmp_path / "spill")
    monkeypatch.setenv("FINANCE_RECON_WAREHOUSE_MEMORY_LIMIT", "plenty")
    with pytest.raises(SettingsError, match="FINANCE_RECON_WAREHOUSE_MEMORY_LIMIT"):
        load_settings()


def test_the_landing_engine_is_one_resource_under_the_same_source_assets(monkeypatch):
    from finance_recon.definitions import build_definitions
    from finance_recon.names import BATCH_KEYS, SOURCE_KEYS
    from finance_recon.settings import load_settings

    for engine, resource, kind in (
        ("embedded", "EmbeddedLandingResource", "duckdb"),
        ("spark", "SparkLandingResource", "spark"),
    ):
        monkeypatch.setenv("FINANCE_RECON_LANDING_ENGINE", engine)
        defs = build_definitions(load_settings())
        assert type(defs.resources["landing"]).__name__ == resource
        sources = {
            spec.key.to_user_string(): (spec.kinds, assets_def.required_resource_keys)
            for assets_def in defs.assets
            for spec in getattr(assets_def, "specs", [])
            if spec.key in (*BATCH_KEYS, *SOURCE_KEYS)
        }
        assert set(sources) == {"orders_batch", "orders", "payments_batch", "payments"}
        for key, (kinds, resource_keys) in sources.items():
            assert kind in kinds, (engine, key, kinds)
            # The batch reads through the engine; the landed table merges through the warehouse.
            assert ("landing" in resource_keys) == key.endswith("_batch"), (engine, key, resource_keys)


def test_the_landing_and_reader_settings_name_their_variables(monkeypatch, tmp_path):
    import pytest

    from finance_recon.settings import SettingsError, load_settings

    monkeypatch.setenv("FINANCE_RECON_DBT_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("FINANCE_RECON_LANDING_SCHEMA", "raw")
    monkeypatch.setenv("FINANCE_RECON_MYSQL_READER", "PyMySQL")
    settings = load_settings()
    assert (settings.dbt_project_dir, settings.landing_schema, settings.mysql_reader) == (
        tmp_path.resolve(),
        "raw",
        "pymysql",
    )
    monkeypatch.setenv("FINANCE_RECON_MYSQL_READER", "odbc")
    with pytest.raises(SettingsError, match="FINANCE_RECON_MYSQL_READER"):
        load_settings()
