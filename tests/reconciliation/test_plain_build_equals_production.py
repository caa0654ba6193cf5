"""A plain `dbt build` on a landed warehouse produces the same marts as a production run.

The warehouse is landed the way the extraction leaves it (the platform's `land`: upsert plus change
log) and the run's parameters are written the way the dbt step writes them (`write_run_parameters`).
Then:

- production: `dbt build` with the dbt step's arguments (finance_recon/reconciliation/assets.py,
  `reconcile_with_dbt`: no unit tests, no CI-only tests), then the verified build recorded;
- a copy of the landed warehouse gets a plain `dbt build` instead (no --vars, no selection, unit
  tests and CI-only tests included): its marts and items equal production's, row for row;
- the production warehouse gets a plain `dbt build` afterwards: it rebuilds what the last run built,
  so nothing changes, and the build record says so.

The dataset is test_dbt_project's hand-built landing: one row (or a few) per category.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.reconciliation.carry_forward import project_fingerprint
from finance_recon.reconciliation.parameters import (
    ReconciliationParameters,
    record_verified_build,
    write_run_parameters,
)
from finance_recon.sources.landing import ensure_landing, land
from tests.reconciliation import test_dbt_project as hand_built
from tests.reconciliation.test_dbt_project import AS_OF, EXPECTED_ITEMS, DbtBuild, query, run_dbt_build

pytestmark = pytest.mark.slow

# The arguments of the production dbt step (reconcile_with_dbt), as_of from control.run_parameters.
PRODUCTION_ARGS = ("--exclude-resource-type", "unit_test", "--exclude", "tag:ci_only")
MARTS = {
    "fct_reconciliation_items": "select * from main.fct_reconciliation_items order by item_key",
    "rpt_reconciliation_summary": "select * from main.rpt_reconciliation_summary",
    "rpt_category_summary": "select * from main.rpt_category_summary order by category, currency",
    "rpt_currency_totals": "select * from main.rpt_currency_totals order by currency",
    "int_reconciliation_items": "select * from main.int_reconciliation_items order by item_key",
}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def land_dataset(warehouse: Path, work_dir: Path) -> None:
    """test_dbt_project's rows, landed as the extraction lands them, and this run's parameters."""
    orders = [
        {"order_id": oid, "customer_id": 100 + oid, "status": status, "currency": currency,
         "total_amount": Decimal(amount), "created_at": _ts(ts), "updated_at": _ts(ts)}
        for oid, status, currency, amount, ts in hand_built.ORDERS
    ]  # fmt: skip
    payments = [
        {"payment_id": pid, "order_id": oid, "provider": "stripe", "kind": kind, "status": status,
         "currency": currency, "amount": Decimal(amount), "created_at": _ts(ts), "updated_at": _ts(ts)}
        for pid, oid, kind, status, currency, amount, ts in hand_built.PAYMENTS
    ]  # fmt: skip
    conn = duckdb.connect(str(warehouse))
    try:
        conn.execute("SET TimeZone = 'UTC'")
        for table, rows in ((ORDERS, orders), (PAYMENTS, payments)):
            ensure_landing(conn, table)
            spill = work_dir / f"{table.asset_name}.arrows"
            with pa.OSFile(str(spill), "wb") as sink, pa.ipc.new_stream(sink, table.arrow_schema) as w:
                w.write_table(pa.Table.from_pylist(rows, schema=table.arrow_schema))
            land(
                conn, table, spill, full_refresh=True, source="test", run_id="landing",
                read_since=None, watermark_before=None, started_at=datetime.now(UTC),
            )  # fmt: skip
        params = ReconciliationParameters(
            as_of=datetime.fromisoformat(AS_OF), tolerance=Decimal("0.00"), grace_minutes=60
        )
        write_run_parameters(conn, params, "production-run")
    finally:
        conn.close()


def marts(warehouse: Path) -> dict[str, list[dict]]:
    return {name: query(warehouse, sql) for name, sql in MARTS.items()}


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work_dir = tmp_path_factory.mktemp("landed")
    warehouse = work_dir / "warehouse.duckdb"
    land_dataset(warehouse, work_dir)
    return warehouse


@pytest.fixture(scope="module")
def production(landed: Path, tmp_path_factory: pytest.TempPathFactory) -> DbtBuild:
    work_dir = tmp_path_factory.mktemp("production")
    warehouse = work_dir / "warehouse.duckdb"
    shutil.copy(landed, warehouse)
    build = run_dbt_build(work_dir, warehouse, *PRODUCTION_ARGS, as_of=None)
    assert build.returncode == 0, build.output[-5000:]
    conn = duckdb.connect(str(warehouse))
    try:
        record_verified_build(
            conn, "production-run", project_fingerprint(hand_built.DBT_PROJECT_DIR, "duckdb")
        )
    finally:
        conn.close()
    return build


def test_production_run_reconciles_the_dataset(production: DbtBuild) -> None:
    """The control: the production build classified the dataset as test_dbt_project expects."""
    items = marts(production.warehouse)["fct_reconciliation_items"]
    assert {r["item_key"]: r["category"] for r in items} == {k: v[0] for k, v in EXPECTED_ITEMS.items()}
    assert production.count("unit_test") == 0


def test_plain_build_on_the_landed_warehouse_equals_production(
    landed: Path, production: DbtBuild, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(landed, warehouse)
    plain = run_dbt_build(tmp_path, warehouse, as_of=None)
    assert plain.returncode == 0, plain.output[-5000:]
    assert plain.count("unit_test") > 0 and plain.count("test", "pass") == plain.count("test")
    assert marts(warehouse) == marts(production.warehouse)


def test_plain_build_after_production_rebuilds_what_it_built(production: DbtBuild, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(production.warehouse, warehouse)
    before = marts(warehouse)
    plain = run_dbt_build(tmp_path, warehouse, as_of=None)
    assert plain.returncode == 0, plain.output[-5000:]
    assert marts(warehouse) == before
    builds = query(warehouse, "select seq, run_id, as_of from control.state_builds order by built_at")
    assert [(b["seq"], b["run_id"]) for b in builds] == [(1, "production-run"), (1, "production-run")]
    assert {b["as_of"] for b in builds} == {datetime.fromisoformat(AS_OF)}
