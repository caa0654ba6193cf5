"""The report tables (contracts §3): `finance_reconciliation_report`, one row per published run, and
`finance_reconciliation_report_totals`, one row per run and currency.

`SELECT max(run_ended_at) FROM finance_reconciliation_report` answers the runbook's freshness question.
Money lives only in the per-currency table: amounts of different currencies are never added together,
so the run row carries counts, never a total. Rows are keyed by run id (and currency), so a retried
step replaces its own rows instead of adding more.
"""

from __future__ import annotations

from typing import Any

from finance_recon.contracts import CATEGORIES
from finance_recon.warehouse import REPORT_TABLE, REPORT_TOTALS_TABLE

COLUMNS: list[tuple[str, str]] = [
    ("run_id", "VARCHAR PRIMARY KEY"),
    ("as_of", "TIMESTAMPTZ NOT NULL"),
    ("run_started_at", "TIMESTAMPTZ"),
    ("run_ended_at", "TIMESTAMPTZ NOT NULL"),
    ("orders_max_updated_at", "TIMESTAMPTZ"),
    ("payments_max_updated_at", "TIMESTAMPTZ"),
    *[(f"count_{c}", "BIGINT NOT NULL") for c in CATEGORIES],
    ("breaks", "BIGINT NOT NULL"),
    ("verdict", "VARCHAR NOT NULL"),
    ("tolerance", "DECIMAL(18,6) NOT NULL"),
    ("grace_minutes", "INTEGER NOT NULL"),
    ("artifact_uri", "VARCHAR NOT NULL"),
]

TOTALS_COLUMNS: list[tuple[str, str]] = [
    ("run_id", "VARCHAR NOT NULL"),
    ("currency", "VARCHAR NOT NULL"),
    ("item_count", "BIGINT NOT NULL"),
    ("order_count", "BIGINT NOT NULL"),
    ("break_count", "BIGINT NOT NULL"),
    ("total_expected", "DECIMAL(38,2) NOT NULL"),
    ("total_net", "DECIMAL(38,2) NOT NULL"),
    ("break_amount", "DECIMAL(38,2) NOT NULL"),
]

# Written by releases before per-currency totals: sums over every currency, which are no amount.
MIXED_CURRENCY_COLUMNS = ("total_expected", "total_net", "break_amount")


def _create(conn) -> None:
    ddl = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    conn.execute(f"CREATE TABLE IF NOT EXISTS main.{REPORT_TABLE} ({ddl})")
    existing = {
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'main' and table_name = ?",
            [REPORT_TABLE],
        ).fetchall()
    }
    for name in MIXED_CURRENCY_COLUMNS:
        if name in existing:
            conn.execute(f"ALTER TABLE main.{REPORT_TABLE} DROP COLUMN {name}")
    totals_ddl = ", ".join(f"{name} {kind}" for name, kind in TOTALS_COLUMNS)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS main.{REPORT_TOTALS_TABLE} ({totals_ddl}, PRIMARY KEY (run_id, currency))"
    )


def record_run(conn, row: dict[str, Any], currencies: list[dict[str, Any]]) -> None:
    """The run's row and its per-currency rows (rpt_currency_totals), in one transaction."""
    _create(conn)
    names = [name for name, _ in COLUMNS]
    placeholders = ", ".join(f"${n}" for n in names)
    totals_names = [name for name, _ in TOTALS_COLUMNS]
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(
            f"INSERT OR REPLACE INTO main.{REPORT_TABLE} ({', '.join(names)}) VALUES ({placeholders})",
            {n: row[n] for n in names},
        )
        conn.execute(f"DELETE FROM main.{REPORT_TOTALS_TABLE} WHERE run_id = ?", [row["run_id"]])
        if currencies:
            conn.executemany(
                f"INSERT INTO main.{REPORT_TOTALS_TABLE} ({', '.join(totals_names)}) "
                f"VALUES ({', '.join('?' for _ in totals_names)})",
                [[row["run_id"], *(c[n] for n in totals_names[1:])] for c in currencies],
            )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
