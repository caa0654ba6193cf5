"""The runbook's detection query, asked of the warehouse the platform writes to.

Runbook §3: "Trino query `SELECT max(run_ended_at) FROM finance_reconciliation_report`". On the
Trino target `diagnose` asks Trino exactly that, against the deployment's Iceberg table, and shows the
answer beside the report store's newest manifest: both must tell the same age.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from finance_recon.settings import Settings
from finance_recon.warehouse import REPORT_TABLE


@dataclass(frozen=True)
class WarehouseLook:
    engine: str
    query: str
    run_ended_at: datetime | None
    age_minutes: float | None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"run_ended_at": self.run_ended_at.isoformat() if self.run_ended_at else None}


def report_table_query(settings: Settings) -> str:
    return f"SELECT max(run_ended_at) FROM {settings.trino_catalog}.{settings.trino_schema}.{REPORT_TABLE}"


def look_at_report_table(settings: Settings, now: datetime) -> WarehouseLook | None:
    """The newest run_ended_at in the warehouse's report table; None when the target is not Trino."""
    if settings.warehouse_target != "trino":
        return None
    from finance_recon.sources.errors import SourceError
    from finance_recon.trino.client import TrinoServer, session

    query = report_table_query(settings)
    server = TrinoServer(settings.trino_host, settings.trino_port, settings.trino_user)
    try:
        with session(server, "the runbook's report-table query") as conn:
            ended = conn.scalar(query)
    except SourceError as exc:
        return WarehouseLook("trino", query, None, None, str(exc))
    age = None if ended is None else round((now - ended.astimezone(UTC)).total_seconds() / 60, 1)
    return WarehouseLook("trino", query, ended, age)
