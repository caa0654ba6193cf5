"""Two deployments in one process (issue 26 item 5): nothing below the entry points reads the
environment, so each `Definitions` carries its own settings."""

from __future__ import annotations

from decimal import Decimal

from dagster import AssetKey

from finance_recon.definitions import build_definitions
from finance_recon.names import DBT_ASSETS_NAME
from finance_recon.settings import Settings

MART = AssetKey("fct_reconciliation_items")


def _dbt_step(defs):
    return next(a for a in defs.assets if getattr(a, "node_def", None) and a.node_def.name == DBT_ASSETS_NAME)


def test_two_deployments_keep_their_own_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_RECON_TOLERANCE", "9.99")  # the process environment is not read
    first = Settings.from_values(**{"home": tmp_path / "first"})
    second = Settings.from_values(
        **{
            "home": tmp_path / "second",
            "tolerance": "1.50",
            "grace_minutes": 5,
            "warehouse_path": tmp_path / "second" / "other.duckdb",
        }
    )
    assert (first.tolerance, second.tolerance) == (Decimal("0.00"), Decimal("1.50"))
    seen = {}
    for name, settings in (("first", first), ("second", second)):
        defs = build_definitions(settings)
        models = _dbt_step(defs)
        fields = models.op.config_schema.config_type.fields
        spec = next(s for s in models.specs if s.key == MART)
        seen[name] = (
            fields["tolerance"].default_value,
            fields["grace_minutes"].default_value,
            spec.metadata["dagster/table_name"],
            defs.resources["warehouse"].path,
        )
    assert seen["first"] == ("0.00", 60, "warehouse.main.fct_reconciliation_items", str(first.warehouse_path))
    assert seen["second"] == ("1.50", 5, "other.main.fct_reconciliation_items", str(second.warehouse_path))
