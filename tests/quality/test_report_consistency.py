"""The report-consistency suite on hand-built marts: balanced marts pass, each imbalance is named,
and money balances per currency (a USD surplus never hides a EUR shortfall)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finance_recon.contracts import CATEGORIES
from finance_recon.engines.embedded import EmbeddedWarehouse
from finance_recon.quality.checks import validate_report_marts

BREAKS = set(CATEGORIES) - {"matched", "open", "in_flight"}

# item_key, item_type, category, currency, expected, net — in USD one matched order, one underpaid,
# one in flight and one orphan payment; in EUR one matched order.
ITEMS = [
    ("order:1", "order", "matched", "USD", "10.00", "10.00"),
    ("order:2", "order", "underpaid", "USD", "20.00", "15.00"),
    ("order:3", "order", "in_flight", "USD", "5.00", "0.00"),
    ("payment:p9", "payment", "orphan_payment", "USD", "0.00", "7.00"),
    ("order:4", "order", "matched", "EUR", "8.00", "8.00"),
]


def build_marts(
    warehouse: EmbeddedWarehouse, *, net_shift: dict[str, str] | None = None, verdict: str = "breaks"
) -> None:
    """The marts of ITEMS, with rpt_currency_totals.total_net moved by `net_shift[currency]`."""
    shift = {c: Decimal(v) for c, v in (net_shift or {}).items()}
    counts = {c: sum(1 for i in ITEMS if i[2] == c) for c in CATEGORIES}
    with warehouse.connection() as conn:
        conn.execute(
            "CREATE OR REPLACE TABLE main.fct_reconciliation_items (item_key VARCHAR, item_type VARCHAR, "
            "category VARCHAR, currency VARCHAR, is_break BOOLEAN, expected DECIMAL(18,2), net DECIMAL(18,2), "
            "difference DECIMAL(18,2), is_synthetic BOOLEAN)"
        )
        for key, kind, category, currency, expected, net in ITEMS:
            conn.execute(
                "INSERT INTO main.fct_reconciliation_items VALUES "
                "(?, ?, ?, ?, ?, ?, ?, CAST(? AS DECIMAL(18,2)) - ?, false)",
                [key, kind, category, currency, category in BREAKS, expected, net, net, expected],
            )
        # A correctness-prober item (finance_recon/probe/): in the items, in no summary, never counted.
        conn.execute(
            "INSERT INTO main.fct_reconciliation_items VALUES ('order:9000000000000003', 'order', 'underpaid', "
            "'USD', true, 10.00, 9.99, -0.01, true)"
        )
        conn.execute(
            "CREATE OR REPLACE TABLE main.rpt_category_summary AS SELECT category, currency, is_break, "
            "count(*) AS items FROM main.fct_reconciliation_items WHERE NOT is_synthetic GROUP BY ALL"
        )
        conn.execute(
            "CREATE OR REPLACE TABLE main.rpt_currency_totals AS SELECT currency, count(*) AS item_count, "
            "sum(CASE WHEN item_type = 'order' THEN expected ELSE 0 END) AS total_expected, "
            "sum(CASE WHEN item_type = 'order' THEN net ELSE 0 END) AS total_net, "
            "sum(CASE WHEN is_break THEN abs(difference) ELSE 0 END) AS break_amount "
            "FROM main.fct_reconciliation_items WHERE NOT is_synthetic GROUP BY currency"
        )
        for currency, amount in shift.items():
            conn.execute(
                "UPDATE main.rpt_currency_totals SET total_net = total_net + ? WHERE currency = ?",
                [amount, currency],
            )
        cols = ", ".join(f"{counts[c]} AS count_{c}" for c in CATEGORIES)
        conn.execute(
            f"CREATE OR REPLACE TABLE main.rpt_reconciliation_summary AS SELECT 4 AS orders_considered, {cols}, "
            f"2 AS breaks, '{verdict}' AS verdict"
        )


@pytest.fixture
def warehouse(tmp_path) -> EmbeddedWarehouse:
    return EmbeddedWarehouse(path=str(tmp_path / "warehouse.duckdb"))


def test_balanced_marts_pass(warehouse):
    build_marts(warehouse)
    result = validate_report_marts(warehouse)
    assert result.passed, result.description


def test_totals_that_do_not_balance_fail_by_name(warehouse):
    build_marts(warehouse, net_shift={"USD": "1.00"}, verdict="reconciled")
    result = validate_report_marts(warehouse)
    assert not result.passed
    failed = {f["column"]: f for f in result.metadata["failed_expectations"].value}
    assert set(failed) == {"currencies_unbalanced_net"}
    assert failed["currencies_unbalanced_net"]["sample_values"] == [1]  # one currency
    assert "total_net − total_expected equals the sum of differences over order items" in result.description


def test_a_surplus_in_one_currency_never_hides_a_shortfall_in_another(warehouse):
    # Summed over currencies these totals would balance (+1.00 USD, −1.00 EUR): per currency they do not.
    build_marts(warehouse, net_shift={"USD": "1.00", "EUR": "-1.00"})
    result = validate_report_marts(warehouse)
    assert not result.passed
    failed = {f["column"]: f for f in result.metadata["failed_expectations"].value}
    assert set(failed) == {"currencies_unbalanced_net"}
    assert failed["currencies_unbalanced_net"]["sample_values"] == [2]
