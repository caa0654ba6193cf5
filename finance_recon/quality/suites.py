"""The expectation suites, as code: what each blocking check asserts, in plain data.

A `Rule` names one Great Expectations 1.x expectation (its class name in
`great_expectations.expectations`), its arguments, the column it is about and the contract rule in
words — the words are what an operator reads in the check's message and in the alert. Building the
GX objects from these rules happens in `gx_runner` (GX is imported there, lazily).

Suites:
- `source_suite(ORDERS | PAYMENTS)`: contracts §1 on the batch a run extracted
  (`landing.<table>__last_batch`): columns and types, not-null, unique primary key, accepted values,
  amount ranges, ISO 4217 currency, timestamps not in the future beyond a skew, created_at ≤ updated_at.
- `report_suite()`: contracts §2/§3 consistency of the reconciliation marts the report publishes,
  evaluated on one row of balances computed in SQL (`report_balances_sql`): every balance must be 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from finance_recon.contracts import (
    BREAK_CATEGORIES,
    CATEGORIES,
    VERDICTS,
    SourceTable,
)
from finance_recon.quality.iso4217 import ISO_4217_CODES

# Clocks of the source servers and of this host are not perfectly in step.
DEFAULT_FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Screen:
    """A cheaper GX expectation that passes exactly when its rule passes.

    GX's pandas engine evaluates some map expectations one Python call per value (a range on a
    DECIMAL column: ~1 µs a row), while the matching aggregate (the column's min or max, vectorised
    by Arrow) answers the same question for the whole column at once: every non-null value is ≥ m
    exactly when the minimum is ≥ m (nulls are skipped by both). `gx_runner` runs the screen first
    and the rule itself only on a chunk whose screen did not pass, so the rule still reports its
    unexpected count and samples on failure; both are decided by GX.
    """

    expectation: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Rule:
    expectation: str  # GX 1.x expectation class, e.g. "ExpectColumnValuesToBeUnique"
    kwargs: dict[str, Any]
    column: str | None  # None for table-level rules
    rule: str  # the contract rule in words
    screen: Screen | None = None  # evaluated instead of the rule while it passes (see `Screen`)
    # Whether an operator may accept a row that fails it (`finance-recon accept`): False when dbt's
    # own tests on the staging models refuse such a row too (a NULL, a duplicate key, an unknown
    # status, an amount out of range), so accepting it would only move the failure into dbt.
    acceptable: bool = True

    @property
    def label(self) -> str:
        return f"{self.column}: {self.rule}" if self.column else self.rule


@dataclass(frozen=True)
class Suite:
    name: str
    table: str  # how messages name the data: "orders", "payments", "reconciliation marts"
    rules: tuple[Rule, ...] = field(default_factory=tuple)


# How each contract column arrives in pandas (`batches.frames`): BIGINT as nullable Int64, VARCHAR as
# pyarrow-backed `str`, DECIMAL as pyarrow decimal128 (whose scalar type is Decimal), TIMESTAMPTZ as
# datetime64[us, UTC]. None of these is `object`, so GX checks each type once per column (the dtype),
# not once per value.
_PANDAS_TYPES = {"BIGINT": "int64", "VARCHAR": "str", "DECIMAL(18,2)": "Decimal", "TIMESTAMPTZ": "Timestamp"}


def source_suite(table: SourceTable, now: datetime, future_skew: timedelta = DEFAULT_FUTURE_SKEW) -> Suite:
    """Contracts §1 for one source table, evaluated at `now` (the future-timestamp bound moves)."""
    latest_allowed = (now + future_skew).isoformat()
    rules: list[Rule] = [
        Rule(
            "ExpectTableColumnsToMatchSet",
            {"column_set": table.column_names, "exact_match": True},
            None,
            f"exactly the contract columns {', '.join(table.column_names)}",
        )
    ]
    for col in table.columns:
        rules.append(
            Rule(
                "ExpectColumnValuesToBeOfType",
                {"column": col.name, "type_": _PANDAS_TYPES[col.warehouse_type]},
                col.name,
                f"type {col.warehouse_type}",
                acceptable=False,
            )
        )
        if not col.nullable:
            rules.append(
                Rule(
                    "ExpectColumnValuesToNotBeNull",
                    {"column": col.name},
                    col.name,
                    "not null",
                    acceptable=False,
                )
            )
    rules.append(
        Rule(
            "ExpectColumnValuesToBeUnique",
            {"column": table.primary_key},
            table.primary_key,
            "unique primary key",
            acceptable=False,
        )
    )
    for col in table.columns:
        if col.accepted_values:
            rules.append(
                Rule(
                    "ExpectColumnValuesToBeInSet",
                    {"column": col.name, "value_set": list(col.accepted_values)},
                    col.name,
                    f"accepted values {', '.join(col.accepted_values)}",
                    acceptable=False,
                )
            )
    if "currency" in table.column_names:
        rules += [
            Rule(
                "ExpectColumnValuesToMatchRegex",
                {"column": "currency", "regex": r"^[A-Z]{3}$"},
                "currency",
                "ISO 4217 currency, 3 upper-case letters",
            ),
            Rule(
                "ExpectColumnValuesToBeInSet",
                {"column": "currency", "value_set": sorted(ISO_4217_CODES)},
                "currency",
                "ISO 4217 currency, a known code",
            ),
        ]
    for col in table.columns:
        if col.min_value is not None:
            bound = {
                "column": col.name,
                "min_value": col.min_value,
                **({"strict_min": True} if col.strict_min else {}),
            }
            label = f"amount {'>' if col.strict_min else '≥'} {col.min_value}" + (
                f" ({col.min_note})" if col.min_note else ""
            )
            rules.append(
                Rule(
                    "ExpectColumnValuesToBeBetween",
                    bound,
                    col.name,
                    label,
                    Screen("ExpectColumnMinToBeBetween", dict(bound)),
                    acceptable=False,
                )
            )
    for column in (c for c in ("created_at", "updated_at") if c in table.column_names):
        rules.append(
            Rule(
                "ExpectColumnValuesToBeBetween",
                {"column": column, "max_value": latest_allowed},
                column,
                f"not in the future (more than {int(future_skew.total_seconds() // 60)} min ahead of the clock)",
            )
        )
    if "created_at" in table.column_names:
        rules.append(
            Rule(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {"column_A": "updated_at", "column_B": "created_at", "or_equal": True},
                "updated_at",
                "created_at ≤ updated_at",
            )
        )
    return Suite(name=f"{table.asset_name}_contract", table=table.asset_name, rules=tuple(rules))


# --------------------------------------------------------------------------------------------------
# Report consistency: one row of balances, each of which must be exactly zero. The marts must
# describe the same items; which category is a break and which verdict follows are rules of
# contracts §2 and live only in dbt (int_reconciliation_items.sql, rpt_reconciliation_summary.sql,
# their unit tests and data tests): this suite does not restate them. Nor does it count distinct
# item keys: the state's unique test does (dbt, on what changed, exact); counting them here scanned
# every item's key on every run (10M items: 1.9 s of a 2.2 s check).

_BALANCES: dict[str, str] = {
    "category_counts_minus_items": "the per-category counts of rpt_reconciliation_summary add up to the items",
    "orders_considered_minus_order_items": "orders_considered equals the order items",
    "breaks_minus_break_items": "breaks equals the items flagged is_break",
    "breaks_minus_break_category_counts": "breaks equals the sum of the break categories' counts",
    "category_summary_items_minus_items": "rpt_category_summary items add up to the items",
    "unknown_categories": "every category is one of contracts §2",
    "currency_totals_items_minus_items": "rpt_currency_totals item counts add up to the items",
    "currencies_unbalanced_net": (
        "per currency, total_net − total_expected equals the sum of differences over order items "
        "(count of currencies where it does not)"
    ),
    "currencies_unbalanced_break_amount": (
        "per currency, break_amount equals the sum of |difference| over breaks "
        "(count of currencies where it does not)"
    ),
    "summary_rows_minus_one": "rpt_reconciliation_summary has exactly one row",
}


def report_balances_sql(schema: str = "main") -> str:
    """One row, one column per balance of `_BALANCES` plus `verdict`; computed by the warehouse."""
    cats = ", ".join(f"'{c}'" for c in CATEGORIES)
    count_sum = " + ".join(f"s.count_{c}" for c in CATEGORIES)
    break_count_sum = " + ".join(f"s.count_{c}" for c in BREAK_CATEGORIES)
    return f"""
with items as (
    select
        count(*) as n_items,
        count(case when item_type = 'order' then 1 end) as n_order_items,
        count(case when is_break then 1 end) as n_break_items,
        count(case when category not in ({cats}) or category is null then 1 end) as unknown_categories
    from {schema}.fct_reconciliation_items
    where not is_synthetic  -- correctness-prober items never reach the summaries (finance_recon/probe)
),
items_by_currency as (
    select
        currency,
        coalesce(sum(case when item_type = 'order' then difference end), 0) as order_differences,
        coalesce(sum(case when is_break then abs(difference) end), 0) as break_differences
    from {schema}.fct_reconciliation_items
    where not is_synthetic
    group by currency
),
-- A currency present on one side only is unbalanced too (the full join gives it NULLs).
currency_balances as (
    select
        count(case when (t.total_net - t.total_expected) is distinct from i.order_differences then 1 end)
            as currencies_unbalanced_net,
        count(case when t.break_amount is distinct from i.break_differences then 1 end)
            as currencies_unbalanced_break_amount,
        coalesce(sum(t.item_count), 0) as n_currency_items
    from {schema}.rpt_currency_totals t
    full outer join items_by_currency i on t.currency = i.currency
),
categories as (
    select coalesce(sum(items), 0) as n_category_items from {schema}.rpt_category_summary
),
summary_rows as (
    select count(*) as n_rows from {schema}.rpt_reconciliation_summary
)
select
    -- coalesce(…, -1): a missing summary row must fail the balances, not make them vanish.
    coalesce(({count_sum}) - i.n_items, -1) as category_counts_minus_items,
    coalesce(s.orders_considered - i.n_order_items, -1) as orders_considered_minus_order_items,
    coalesce(s.breaks - i.n_break_items, -1) as breaks_minus_break_items,
    coalesce(s.breaks - ({break_count_sum}), -1) as breaks_minus_break_category_counts,
    c.n_category_items - i.n_items as category_summary_items_minus_items,
    i.unknown_categories,
    b.n_currency_items - i.n_items as currency_totals_items_minus_items,
    b.currencies_unbalanced_net,
    b.currencies_unbalanced_break_amount,
    r.n_rows - 1 as summary_rows_minus_one,
    coalesce(s.verdict, '(no summary row)') as verdict
from summary_rows r
cross join items i
cross join categories c
cross join currency_balances b
left join (select * from {schema}.rpt_reconciliation_summary limit 1) s on true
"""


def report_suite() -> Suite:
    rules = [
        Rule("ExpectColumnValuesToBeBetween", {"column": name, "min_value": 0, "max_value": 0}, name, text)
        for name, text in _BALANCES.items()
    ]
    rules.append(
        Rule(
            "ExpectColumnValuesToBeInSet",
            {"column": "verdict", "value_set": list(VERDICTS)},
            "verdict",
            f"verdict is one of {', '.join(VERDICTS)}",
        )
    )
    return Suite(name="report_consistency", table="reconciliation marts", rules=tuple(rules))
