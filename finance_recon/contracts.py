"""The source contracts of `shared/product/contracts.md` §1, as data.

One definition used by the readers (what to select, which Arrow type each column lands as), the
warehouse landing DDL, the demo generator and the quality suites. Money is `decimal128(18, 2)`,
timestamps are UTC-aware microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

MONEY = pa.decimal128(18, 2)
UTC_TS = pa.timestamp("us", tz="UTC")

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
PAYMENT_KINDS = ("charge", "refund", "chargeback")
PAYMENT_STATUSES = ("pending", "succeeded", "failed")


@dataclass(frozen=True)
class Column:
    name: str
    arrow_type: pa.DataType
    warehouse_type: str  # DuckDB DDL type of the landing table
    nullable: bool = False
    # SQL type families accepted in the source (lower-case prefixes of information_schema data_type).
    source_types: tuple[str, ...] = ()
    # The contract's rules on the values (the blocking contract suite, quality/suites.py, reads them):
    # the only values allowed, and a lower bound (exclusive with `strict_min`; `min_note` says why).
    accepted_values: tuple[str, ...] = ()
    min_value: int | None = None
    strict_min: bool = False
    min_note: str = ""


@dataclass(frozen=True)
class SourceTable:
    """A contract table: where it lives upstream and how it lands in the warehouse."""

    asset_name: str  # Dagster asset key and landing table name
    table: str  # table name in the source database
    primary_key: str
    columns: tuple[Column, ...]
    # The reconciliation keys a change of one row can affect (order_id / payment_id), recorded for
    # both the landed and the replaced version in landing._changed_keys: the incremental state
    # re-classifies exactly those items (dbt_project/models/intermediate/int_reconciliation_items.sql).
    change_keys: tuple[str, ...] = ()
    # What the table holds and where it lives upstream, as the UI and the messages name them.
    title: str = ""  # "Shop orders"
    source_kind: str = ""  # the upstream engine's Dagster kind: "mysql", "postgres"
    source_relation: str = ""  # "MySQL `oltp.orders`"

    @property
    def batch_asset_name(self) -> str:
        """The asset of the batch a run reads and stages (`orders_batch`); `asset_name` is the
        landed table it is merged into once its contract check passed."""
        return f"{self.asset_name}_batch"

    @property
    def source_resource_key(self) -> str:
        """The resource key of the `SourceDatabaseResource` the table is read from (`orders_source`)."""
        return f"{self.asset_name}_source"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_INT = ("bigint", "int8", "integer", "int")
_TEXT = ("varchar", "character varying", "char", "character", "bpchar", "text", "string")
_DECIMAL = ("decimal", "numeric")
_TS = ("datetime", "timestamp")

ORDERS = SourceTable(
    asset_name="orders",
    table="orders",
    primary_key="order_id",
    columns=(
        Column("order_id", pa.int64(), "BIGINT", source_types=_INT),
        Column("customer_id", pa.int64(), "BIGINT", source_types=_INT),
        Column("status", pa.string(), "VARCHAR", source_types=_TEXT, accepted_values=ORDER_STATUSES),
        Column("currency", pa.string(), "VARCHAR", source_types=_TEXT),
        Column("total_amount", MONEY, "DECIMAL(18,2)", source_types=_DECIMAL, min_value=0),
        Column("created_at", UTC_TS, "TIMESTAMPTZ", source_types=_TS),
        Column("updated_at", UTC_TS, "TIMESTAMPTZ", source_types=_TS),
    ),
    change_keys=("order_id",),
    title="Shop orders",
    source_kind="mysql",
    source_relation="MySQL `oltp.orders`",
)

PAYMENTS = SourceTable(
    asset_name="payments",
    table="payments",
    primary_key="payment_id",
    columns=(
        Column("payment_id", pa.string(), "VARCHAR", source_types=_TEXT),
        Column("order_id", pa.int64(), "BIGINT", nullable=True, source_types=_INT),
        Column("provider", pa.string(), "VARCHAR", source_types=_TEXT),
        Column("kind", pa.string(), "VARCHAR", source_types=_TEXT, accepted_values=PAYMENT_KINDS),
        Column("status", pa.string(), "VARCHAR", source_types=_TEXT, accepted_values=PAYMENT_STATUSES),
        Column("currency", pa.string(), "VARCHAR", source_types=_TEXT),
        Column(
            "amount",
            MONEY,
            "DECIMAL(18,2)",
            source_types=_DECIMAL,
            min_value=0,
            strict_min=True,
            min_note="the sign comes from kind",
        ),
        Column("created_at", UTC_TS, "TIMESTAMPTZ", source_types=_TS),
        Column("updated_at", UTC_TS, "TIMESTAMPTZ", source_types=_TS),
    ),
    change_keys=("payment_id", "order_id"),
    title="Provider payments",
    source_kind="postgres",
    source_relation="PostgreSQL `public.payments`",
)

# Every source table, in the order the platform reads them: the assets, checks, resources, run
# config, CLI, metrics and probes are built from this tuple (docs/architecture.md, "Add a source").
SOURCE_TABLES = (ORDERS, PAYMENTS)


def source_table(name: str) -> SourceTable:
    """The source table whose asset is `name` (`orders`), or a KeyError naming the known ones."""
    for table in SOURCE_TABLES:
        if table.asset_name == name:
            return table
    raise KeyError(f"no source table {name!r} (known: {', '.join(t.asset_name for t in SOURCE_TABLES)})")


# The categories of contracts §2, in rule order; breaks are all but the three settled ones.
CATEGORIES = (
    "matched",
    "open",
    "in_flight",
    "currency_mismatch",
    "order_status_lag",
    "missing_payment",
    "underpaid",
    "overpaid",
    "duplicate_charge",
    "refund_due",
    "over_refunded",
    "orphan_payment",
)
NON_BREAK_CATEGORIES = ("matched", "open", "in_flight")
BREAK_CATEGORIES = tuple(c for c in CATEGORIES if c not in NON_BREAK_CATEGORIES)
VERDICTS = ("reconciled", "reconciled_with_pending", "breaks")

# The correctness prober's reserved ids (docs/contracts.md §1, finance_recon/probe/): synthetic
# orders take order_id ≥ PROBE_ORDER_ID_MIN (far above any auto-increment a shop reaches, still a
# BIGINT and still exact in a float64 reader), synthetic payments a payment_id starting with
# PROBE_PAYMENT_ID_PREFIX. An item is synthetic when either id is reserved; synthetic items are
# classified like any other (that is the probe) and excluded from everything Finance sees.
# dbt_project/macros/synthetic.sql restates both values (dbt cannot import Python);
# tests/probe/test_plan.py proves they agree.
PROBE_ORDER_ID_MIN = 9_000_000_000_000_000
PROBE_PAYMENT_ID_PREFIX = "probe-"


def is_synthetic_order_id(order_id: int | None) -> bool:
    return order_id is not None and order_id >= PROBE_ORDER_ID_MIN


def is_synthetic_payment_id(payment_id: str | None) -> bool:
    return payment_id is not None and payment_id.startswith(PROBE_PAYMENT_ID_PREFIX)
