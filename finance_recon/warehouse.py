"""The embedded warehouse (a DuckDB file): one resource, one way to open it.

DuckDB allows one writer process at a time, so connections are opened per step and closed at once;
readers outside the run (metrics, alerting) read the published manifests instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import ConfigurableResource

LANDING_SCHEMA = "landing"
REPORT_TABLE = "finance_reconciliation_report"
REPORT_TOTALS_TABLE = "finance_reconciliation_report_totals"


def connect(path: str | Path, read_only: bool = False):
    import duckdb

    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path), read_only=read_only)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


class WarehouseResource(ConfigurableResource):
    """Where orders and payments land and where dbt builds the reconciliation (DuckDB by default)."""

    path: str
    target: str = "duckdb"
    # FINANCE_RECON_WAREHOUSE_MEMORY_LIMIT, as dbt gets it: applied where a step asks for it
    # (`bounded`); None or not asked, DuckDB's default (80% of the machine's memory).
    memory_limit: str | None = None

    @contextmanager
    def connection(self, read_only: bool = False, spill_to: Path | None = None) -> Iterator:
        """`spill_to`: hold DuckDB to `memory_limit` and spill beyond it into that folder (the report's
        breaks, whose number grows with the shop; a read-only database has no temp file of its own)."""
        conn = connect(self.path, read_only=read_only)
        if spill_to is not None:
            if self.memory_limit:
                conn.execute("SET memory_limit = ?", [self.memory_limit])
            conn.execute("SET temp_directory = ?", [str(spill_to)])
        try:
            yield conn
        finally:
            conn.close()
