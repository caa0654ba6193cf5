"""The embedded engine: the DuckDB file as the `warehouse` resource (`Warehouse`).

Each operation opens its own short connection (`warehouse_connection` waits while another process
holds DuckDB's single writer lock) and closes it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar

from finance_recon.contracts import ORDERS, PAYMENTS, SourceTable
from finance_recon.names import STATE_MODEL
from finance_recon.quality.batches import Batch, embedded_batch_for_check
from finance_recon.reconciliation.carry_forward import CarryForward, StateRelations, decide, record_sql
from finance_recon.reconciliation.parameters import (
    RUN_PARAMETERS_TABLE,
    STATE_BUILDS_TABLE,
    VERIFIED_BUILDS_TABLE,
    ReconciliationParameters,
    record_verified_build,
    write_run_parameters,
)
from finance_recon.report.table import record_run
from finance_recon.settings import ENV_WAREHOUSE_PATH
from finance_recon.sources import landing
from finance_recon.sources.landing import CHANGED_KEYS, Landed, sql_literal, warehouse_connection
from finance_recon.warehouse import WarehouseResource


class EmbeddedWarehouse(WarehouseResource):
    """The landed sources (`landing.*`), the dbt models (`main.*`), the run control (`control.*`) and
    the report table, all in one DuckDB file (`path`)."""

    STORAGE_KIND: ClassVar[str] = "duckdb"  # what the UI shows for the tables it holds

    def batch_for_check(self, table: SourceTable, *, chunk_rows: int) -> AbstractContextManager[Batch]:
        return embedded_batch_for_check(self, table, chunk_rows=chunk_rows)

    def mark_checked(self, table: SourceTable) -> None:
        with warehouse_connection(self) as conn:
            landing.mark_checked(conn, table)

    def promote_checked(self, tables: tuple[SourceTable, ...]) -> Mapping[str, Landed]:
        with warehouse_connection(self) as conn:
            return landing.promote(conn, tables)

    def quarantined_keys(self, table: SourceTable) -> set[str] | None:
        with warehouse_connection(self) as conn:
            landing.ensure_landing(conn, table)
            if table.asset_name not in landing.pending_tables(conn):
                return None
            return landing.batch_keys(conn, table)

    def accept_rows(self, table: SourceTable, *, reason: str, accepted_by: str, keys: set[str]) -> int:
        with warehouse_connection(self) as conn:
            return landing.accept_pending(conn, table, reason=reason, accepted_by=accepted_by, keys=keys)

    def write_run_parameters(self, params: ReconciliationParameters, run_id: str) -> None:
        with warehouse_connection(self) as conn:
            write_run_parameters(conn, params, run_id)

    def dbt_env(self) -> dict[str, str]:
        return {ENV_WAREHOUSE_PATH: self.path}

    def dbt_state_anchor(self) -> str:
        return self.path  # dbt's parse state sits beside the DuckDB file

    def record_verified_build(self, run_id: str, project_fingerprint: str) -> None:
        with warehouse_connection(self) as conn:
            record_verified_build(conn, run_id, project_fingerprint)

    def carry_state_forward(
        self, params: ReconciliationParameters, run_id: str, project_fingerprint: str
    ) -> CarryForward:
        with warehouse_connection(self) as conn:
            relations = StateRelations(
                state=f"main.{STATE_MODEL.path[-1]}",
                change_log=CHANGED_KEYS,
                orders=landing.landing_table(ORDERS),
                payments=landing.landing_table(PAYMENTS),
                state_builds=STATE_BUILDS_TABLE,
                verified_builds=VERIFIED_BUILDS_TABLE,
                run_parameters=RUN_PARAMETERS_TABLE,
                literal=sql_literal,
                now="now()",
                exists=lambda relation: landing.table_exists(conn, relation),
                timestamp_out="epoch_us({})",
            )
            decision = decide(
                lambda sql: conn.execute(sql).fetchall(), relations, params, project_fingerprint
            )
            if decision.carried:
                conn.execute("BEGIN TRANSACTION")
                try:
                    for statement in record_sql(
                        relations, decision.last_build, params, run_id, project_fingerprint
                    ):
                        conn.execute(statement)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            return decision

    def models_frame(self, sql_of: Callable[[str], str], step: str) -> Any:
        with warehouse_connection(self) as conn:
            return conn.execute(sql_of("main")).fetch_arrow_table().to_pandas()

    def report_inputs(self, folder: Path) -> WarehouseResource:
        return self  # the report reads the marts where dbt built them

    def add_resolved_items(self, marts: WarehouseResource, previous_breaks: Path | None) -> None:
        return None  # every item is in the file already

    def record_report_run(self, row: dict[str, Any], currencies: list[dict[str, Any]]) -> None:
        with self.connection() as conn:
            record_run(conn, row, currencies)
