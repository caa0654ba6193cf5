"""The `finance_reconciliation_report` table: one row per published run (contracts §3).

`SELECT max(run_ended_at) FROM finance_reconciliation_report` answers the runbook's freshness question.
The row is keyed by run id, so a retried step replaces its own row instead of adding a second one.
"""

from __future__ import annotations

from typing import Any

from finance_recon.contracts import CATEGORIES
from finance_recon.warehouse import REPORT_TABLE

COLUMNS: list[tuple[str, str]] = [
    ("run_id", "VARCHAR PRIMARY KEY"),
    ("as_of", "TIMESTAMPTZ NOT NULL"),
    ("run_started_at", "TIMESTAMPTZ"),
    ("run_ended_at", "TIMESTAMPTZ NOT NULL"),
    ("orders_max_updated_at", "TIMESTAMPTZ"),
    ("payments_max_updated_at", "TIMESTAMPTZ"),
    *[(f"count_{c}", "BIGINT NOT NULL") for c in CATEGORIES],
    ("breaks", "BIGINT NOT NULL"),
    ("total_expected", "DECIMAL(38,2) NOT NULL"),
    ("total_net", "DECIMAL(38,2) NOT NULL"),
    ("break_amount", "DECIMAL(38,2) NOT NULL"),
    ("verdict", "VARCHAR NOT NULL"),
    ("tolerance", "DECIMAL(18,6) NOT NULL"),
    ("grace_minutes", "INTEGER NOT NULL"),
    ("artifact_uri", "VARCHAR NOT NULL"),
]


def record_run(conn, row: dict[str, Any]) -> None:
    ddl = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    conn.execute(f"CREATE TABLE IF NOT EXISTS main.{REPORT_TABLE} ({ddl})")
    names = [name for name, _ in COLUMNS]
    placeholders = ", ".join(f"${n}" for n in names)
    conn.execute(
        f"INSERT OR REPLACE INTO main.{REPORT_TABLE} ({', '.join(names)}) VALUES ({placeholders})",
        {n: row[n] for n in names},
    )
