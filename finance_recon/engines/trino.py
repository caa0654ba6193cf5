"""The production engine: Iceberg tables through Trino as the `warehouse` resource (`Warehouse`).

The SQL lives in finance_recon/trino/ (the landing's quarantine, the control tables, the report's
mirror); this class is where the assets reach it. docs/engines.md has the route and its figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from finance_recon.contracts import ORDERS, PAYMENTS, SourceTable
from finance_recon.names import STATE_MODEL
from finance_recon.probe.evaluate import real_rows
from finance_recon.quality.batches import Batch
from finance_recon.reconciliation.carry_forward import CarryForward, StateRelations, decide, record_sql
from finance_recon.reconciliation.parameters import ReconciliationParameters
from finance_recon.report.table import COLUMNS, TOTALS_COLUMNS
from finance_recon.sources.landing import Landed
from finance_recon.trino.client import literal, qualified
from finance_recon.trino.report_mirror import mirror_marts, mirror_resolved_items
from finance_recon.trino.resources import (
    TrinoWarehouseResource,
    record_verified_build,
    trino_type,
    write_run_parameters,
)
from finance_recon.warehouse import REPORT_TABLE, REPORT_TOTALS_TABLE, WarehouseResource


class TrinoWarehouse(TrinoWarehouseResource):
    """Everything under one Iceberg catalog: `<schema>` (dbt models, the report table),
    `<schema>_landing` (landed sources, the quarantine) and `<schema>_control` (run parameters)."""

    STORAGE_KIND: ClassVar[str] = "iceberg"  # what the UI shows for the tables it holds

    @contextmanager
    def batch_for_check(self, table: SourceTable, *, chunk_rows: int) -> Iterator[Batch]:
        # The staged batch less accepted versions, read from Iceberg as Arrow in one piece (a batch
        # beyond `chunk_rows` is not spilled here: on this engine the check reads what PyIceberg scans).
        data, full_read, accepted = self.checked_batch(table)
        yield Batch(data, data.num_rows, full_read, staged=data.num_rows + accepted, accepted=accepted)

    def mark_checked(self, table: SourceTable) -> None:
        with self.session(f"marking the {table.asset_name} batch checked") as conn:
            self.landing(conn).mark_checked(table)

    def promote_checked(self, tables: tuple[SourceTable, ...]) -> Mapping[str, Landed]:
        with self.session("promoting the checked batches") as conn:
            return self.landing(conn).promote(tables)

    def quarantined_keys(self, table: SourceTable) -> set[str] | None:
        with self.session(f"reading the quarantined {table.asset_name} batch") as conn:
            landing = self.landing(conn)
            landing.ensure(table)
            if landing.pending_mode(table) is None:
                return None
            return landing.batch_keys(table)

    def accept_rows(self, table: SourceTable, *, reason: str, accepted_by: str, keys: set[str]) -> int:
        with self.session(f"accepting {table.asset_name} rows") as conn:
            return self.landing(conn).accept_pending(table, reason=reason, accepted_by=accepted_by, keys=keys)

    def write_run_parameters(self, params: ReconciliationParameters, run_id: str) -> None:
        write_run_parameters(self, params, run_id)

    def dbt_state_anchor(self) -> str:
        return str(Path(self.local_dir) / self.models_schema)

    def record_verified_build(self, run_id: str, project_fingerprint: str) -> None:
        record_verified_build(self, run_id, project_fingerprint)

    def carry_state_forward(
        self, params: ReconciliationParameters, run_id: str, project_fingerprint: str
    ) -> CarryForward:
        names = {
            "state": (self.models_schema, STATE_MODEL.path[-1]),
            "change_log": (self.landing_schema, "_changed_keys"),
            "orders": (self.landing_schema, ORDERS.asset_name),
            "payments": (self.landing_schema, PAYMENTS.asset_name),
            "state_builds": (self.control_schema, "state_builds"),
            "verified_builds": (self.control_schema, "verified_builds"),
            "run_parameters": (self.control_schema, "run_parameters"),
        }
        where = {qualified(self.catalog, *parts): parts for parts in names.values()}
        with self.session("deciding whether anything is dirty") as conn:

            def exists(relation: str) -> bool:
                schema, name = where[relation]
                return bool(
                    conn.execute(
                        f"SELECT count(*) FROM {qualified(self.catalog, 'information_schema', 'tables')} "
                        f"WHERE table_schema = {literal(schema)} AND table_name = {literal(name)}"
                    )[0][0]
                )

            relations = StateRelations(
                **{key: qualified(self.catalog, *parts) for key, parts in names.items()},
                literal=literal,
                now="current_timestamp(6)",
                exists=exists,
            )
            decision = decide(conn.execute, relations, params, project_fingerprint)
            if decision.carried:
                # Iceberg commits one table per statement: the build's row first, so that a crash
                # between the two leaves an unverified build, which the next run does not carry
                # forward (it builds).
                for statement in record_sql(
                    relations, decision.last_build, params, run_id, project_fingerprint
                ):
                    conn.execute(statement)
        return decision

    def models_frame(self, sql_of: Callable[[str], str], step: str) -> Any:
        import pandas as pd

        with self.session(step) as conn:
            names, rows = conn.query(sql_of(qualified(self.catalog, self.models_schema)))
        return pd.DataFrame(rows, columns=names)

    def report_inputs(self, folder: Path) -> WarehouseResource:
        # The marts stay in Iceberg; the report's inputs (summaries, breaks, watermarks) are copied
        # into a scratch DuckDB file laid out as the embedded warehouse, and the same report code runs.
        path = folder / "marts.duckdb"
        mirror_marts(self, path, real_rows)
        return WarehouseResource(path=str(path), memory_limit="1GB")

    def add_resolved_items(self, marts: WarehouseResource, previous_breaks: Path | None) -> None:
        mirror_resolved_items(self, Path(marts.path), previous_breaks)

    def record_report_run(self, row: dict[str, Any], currencies: list[dict[str, Any]]) -> None:
        _record_run(self, row, currencies)


def _record_run(
    warehouse: TrinoWarehouseResource, row: dict[str, Any], currencies: list[dict[str, Any]]
) -> None:
    """The published run's row and its per-currency totals, as Iceberg tables beside the marts:
    `SELECT max(run_ended_at) FROM <catalog>.<schema>.finance_reconciliation_report` answers the runbook.
    A retried step replaces its own rows (keyed by run id)."""
    report = qualified(warehouse.catalog, warehouse.models_schema, REPORT_TABLE)
    totals = qualified(warehouse.catalog, warehouse.models_schema, REPORT_TOTALS_TABLE)
    with warehouse.session("recording the report run") as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(warehouse.catalog, warehouse.models_schema)}")
        ddl = ", ".join(f"{name} {trino_type(kind)}" for name, kind in COLUMNS)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {report} ({ddl})")
        totals_ddl = ", ".join(f"{name} {trino_type(kind)}" for name, kind in TOTALS_COLUMNS)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {totals} ({totals_ddl})")
        run = literal(row["run_id"])
        conn.execute(f"DELETE FROM {totals} WHERE run_id = {run}")
        conn.execute(f"DELETE FROM {report} WHERE run_id = {run}")
        if currencies:
            names = [name for name, _ in TOTALS_COLUMNS]
            rows = ", ".join(
                "(" + ", ".join([run, *(literal(c[n]) for n in names[1:])]) + ")" for c in currencies
            )
            conn.execute(f"INSERT INTO {totals} ({', '.join(names)}) VALUES {rows}")
        names = [name for name, _ in COLUMNS]
        values = ", ".join(f"CAST({literal(row[n])} AS {trino_type(kind)})" for n, kind in COLUMNS)
        conn.execute(f"INSERT INTO {report} ({', '.join(names)}) VALUES ({values})")
