"""The report-consistency suite on hand-built marts: balanced marts pass, each imbalance is named."""

from __future__ import annotations

import pytest

from finance_recon.contracts import CATEGORIES
from finance_recon.quality.checks import validate_report_marts
from finance_recon.warehouse import WarehouseResource

BREAKS = set(CATEGORIES) - {"matched", "open", "in_flight"}

# item_key, item_type, category, expected, net — one matched order, one underpaid, one in flight,
# one orphan payment.
ITEMS = [
    ("order:1", "order", "matched", "10.00", "10.00"),
    ("order:2", "order", "underpaid", "20.00", "15.00"),
    ("order:3", "order", "in_flight", "5.00", "0.00"),
    ("payment:p9", "payment", "orphan_payment", "0.00", "7.00"),
]


def build_marts(warehouse: WarehouseResource, *, total_net: str = "25.00", verdict: str = "breaks") -> None:
    counts = {c: sum(1 for i in ITEMS if i[2] == c) for c in CATEGORIES}
    with warehouse.connection() as conn:
        conn.execute(
            "CREATE OR REPLACE TABLE main.fct_reconciliation_items (item_key VARCHAR, item_type VARCHAR, "
            "category VARCHAR, is_break BOOLEAN, expected DECIMAL(18,2), net DECIMAL(18,2), difference DECIMAL(18,2), "
            "is_synthetic BOOLEAN)"
        )
        for key, kind, category, expected, net in ITEMS:
            conn.execute(
                "INSERT INTO main.fct_reconciliation_items VALUES (?, ?, ?, ?, ?, ?, CAST(? AS DECIMAL(18,2)) - ?, false)",
                [key, kind, category, category in BREAKS, expected, net, net, expected],
            )
        # A correctness-prober item (finance_recon/probe/): in the items, in no summary, never counted.
        conn.execute(
            "INSERT INTO main.fct_reconciliation_items VALUES ('order:9000000000000003', 'order', 'underpaid', "
            "true, 10.00, 9.99, -0.01, true)"
        )
        conn.execute(
            "CREATE OR REPLACE TABLE main.rpt_category_summary AS SELECT category, is_break, count(*) AS items "
            "FROM main.fct_reconciliation_items WHERE NOT is_synthetic GROUP BY ALL"
        )
        cols = ", ".join(f"{counts[c]} AS count_{c}" for c in CATEGORIES)
        conn.execute(
            f"CREATE OR REPLACE TABLE main.rpt_reconciliation_summary AS SELECT 3 AS orders_considered, {cols}, "
            f"2 AS breaks, CAST('35.00' AS DECIMAL(18,2)) AS total_expected, CAST('{total_net}' AS DECIMAL(18,2)) "
            f"AS total_net, CAST('12.00' AS DECIMAL(18,2)) AS break_amount, '{verdict}' AS verdict"
        )


@pytest.fixture
def warehouse(tmp_path) -> WarehouseResource:
    return WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))


def test_balanced_marts_pass(warehouse):
    build_marts(warehouse)
    result = validate_report_marts(warehouse)
    assert result.passed, result.description


def test_totals_that_do_not_balance_fail_by_name(warehouse):
    build_marts(warehouse, total_net="26.00", verdict="reconciled")
    result = validate_report_marts(warehouse)
    assert not result.passed
    failed = {f["column"]: f for f in result.metadata["failed_expectations"].value}
    assert set(failed) == {"net_minus_expected_minus_differences"}
    assert failed["net_minus_expected_minus_differences"]["sample_values"] == ["1.00"]
    assert "total_net − total_expected equals the sum of differences over order items" in result.description
