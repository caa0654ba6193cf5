"""The "add a source" recipe (docs/architecture.md), proven with a toy third table: one
`SourceTable` entry gives its batch and landed assets, its blocking contract check (with the rules
its columns declare), its source-lag check, its source resource key, and the quarantine. The dbt side
(a staging model) is the recipe's other step and is not exercised here."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pyarrow as pa
from dagster import AssetKey, DagsterInstance, materialize

from finance_recon.contracts import MONEY, UTC_TS, Column, SourceTable
from finance_recon.demo.seed import load_table
from finance_recon.engines.embedded import EmbeddedWarehouse
from finance_recon.quality.checks import build_quality_checks
from finance_recon.settings import Settings
from finance_recon.sources.assets import build_source_assets
from finance_recon.sources.resources import SourceDatabaseResource

from .conftest import T0

REFUNDS = SourceTable(
    asset_name="refunds",
    table="refunds",
    primary_key="refund_id",
    columns=(
        Column("refund_id", pa.int64(), "BIGINT", source_types=("bigint", "integer")),
        Column("order_id", pa.int64(), "BIGINT", source_types=("bigint", "integer")),
        Column(
            "reason", pa.string(), "VARCHAR", source_types=("varchar",), accepted_values=("damaged", "late")
        ),
        Column("currency", pa.string(), "VARCHAR", source_types=("varchar",)),
        Column("amount", MONEY, "DECIMAL(18,2)", source_types=("decimal",), min_value=0, strict_min=True),
        Column("created_at", UTC_TS, "TIMESTAMPTZ", source_types=("timestamp",)),
        Column("updated_at", UTC_TS, "TIMESTAMPTZ", source_types=("timestamp",)),
    ),
    change_keys=("order_id",),
    title="Refunds",
    source_kind="postgres",
    source_relation="PostgreSQL `public.refunds`",
)


def refunds(rows: list[tuple[int, str, str]]) -> pa.Table:
    """rows: (refund_id, reason, amount)."""
    return pa.table(
        {
            "refund_id": [r[0] for r in rows],
            "order_id": [100 + r[0] for r in rows],
            "reason": [r[1] for r in rows],
            "currency": ["EUR"] * len(rows),
            "amount": [Decimal(r[2]) for r in rows],
            "created_at": [T0 - timedelta(hours=1)] * len(rows),
            "updated_at": [T0 + timedelta(seconds=r[0]) for r in rows],
        },
        schema=REFUNDS.arrow_schema,
    )


def landed(warehouse: EmbeddedWarehouse) -> list[tuple]:
    with warehouse.connection(read_only=True) as conn:
        return conn.execute("SELECT refund_id, reason, amount FROM landing.refunds ORDER BY 1").fetchall()


def test_one_entry_gives_a_third_table_its_assets_checks_and_quarantine(tmp_path):
    url = f"duckdb:///{tmp_path / 'refunds.duckdb'}"
    warehouse = EmbeddedWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    assets = build_source_assets(tables=(REFUNDS,))
    checks = build_quality_checks(Settings.from_values(home=tmp_path), tables=(REFUNDS,))
    checks = [c for c in checks if AssetKey("refunds_batch") in {k.asset_key for k in c.check_keys}]
    assert sorted(k.to_user_string() for a in assets for k in a.keys) == ["refunds", "refunds_batch"]
    assert sorted(k.name for c in checks for k in c.check_keys) == ["contract", "source_lag"]
    resources = {"warehouse": warehouse, REFUNDS.source_resource_key: SourceDatabaseResource(url=url)}
    instance = DagsterInstance.ephemeral()

    load_table(REFUNDS, refunds([(1, "damaged", "5.00"), (2, "late", "7.50")]), url)
    first = materialize([*assets, *checks], resources=resources, instance=instance)
    assert first.success
    assert landed(warehouse) == [(1, "damaged", Decimal("5.00")), (2, "late", Decimal("7.50"))]
    [contract] = [e for e in first.get_asset_check_evaluations() if e.check_name == "contract"]
    assert contract.passed and contract.metadata["suite"].value == "refunds_contract"

    # A row that breaks a rule its column declares (amount > 0): the batch is quarantined, the
    # landed table keeps what it had, and the check names the table, the column and the rule.
    load_table(REFUNDS, refunds([(1, "damaged", "5.00"), (2, "late", "7.50"), (3, "late", "0.00")]), url)
    second = materialize([*assets, *checks], resources=resources, instance=instance, raise_on_error=False)
    assert not second.success
    [contract] = [e for e in second.get_asset_check_evaluations() if e.check_name == "contract"]
    assert not contract.passed
    assert "refunds" in contract.description and "amount" in contract.description
    assert "amount > 0" in contract.metadata["failed_rules"].value
    assert AssetKey("refunds") not in {e.asset_key for e in second.get_asset_materialization_events()}
    assert [row[0] for row in landed(warehouse)] == [1, 2]
