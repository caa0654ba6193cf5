"""Landing on Trino over Iceberg: the embedded path's semantics, with Trino reading the sources itself.

Tables, all in the warehouse's Iceberg catalog, schema `TrinoWarehouse.landing_schema`:

- `<table>` (`orders`, `payments`): the contract columns, the latest version per primary key;
- `<table>__last_batch`: the rows the latest run read (the contract check validates it);
- `_pending_batches`, `_watermarks`, `_extract_batches`, `_changed_keys`, `_accepted_rows`: as in
  `finance_recon/sources/landing.py`, whose docstring gives their meaning.

The route (measured, docs/engines.md): the platform's readers fetch the batch as Arrow and PyIceberg
commits it to `<table>__last_batch` (finance_recon/trino/iceberg.py); everything else is SQL in Trino.
**Quarantine** holds as on DuckDB: `stage` fills the batch table
and records a pending row; only `promote`, called by the reconciliation step after the blocking
contract check passed (`mark_checked`), merges the batch into `<table>`, logs the changed keys and
moves the watermark. Iceberg commits each statement on its own (no transaction spans tables), so
`promote` is ordered to be safe to repeat: the change log of a batch is keyed by its number (a
retry replaces it), the MERGE is an upsert of the same versions, and the pending row — which is what
makes a batch promotable — goes last, after the watermark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

from finance_recon.contracts import SourceTable
from finance_recon.sources.landing import CHANGE_KEY_COLUMNS, Landed, Watermark
from finance_recon.sources.policy import ReadPlan, watermark_after

from .client import TrinoSession, literal, qualified

TRINO_TYPES = {
    "BIGINT": "BIGINT",
    "VARCHAR": "VARCHAR",
    "DECIMAL(18,2)": "DECIMAL(18, 2)",
    "TIMESTAMPTZ": "TIMESTAMP(6) WITH TIME ZONE",
}
TS = "TIMESTAMP(6) WITH TIME ZONE"


class TrinoLanding:
    """The landing tables of one deployment: `catalog.schema` on one Trino session."""

    def __init__(self, conn: TrinoSession, catalog: str, schema: str):
        self.conn = conn
        self.catalog = catalog
        self.schema = schema

    def rel(self, name: str) -> str:
        return qualified(self.catalog, self.schema, name)

    def landing_table(self, table: SourceTable) -> str:
        return self.rel(table.asset_name)

    def batch_table(self, table: SourceTable) -> str:
        return self.rel(f"{table.asset_name}__last_batch")

    # ---------------------------------------------------------------------------------------- DDL

    def _columns_ddl(self, table: SourceTable) -> str:
        return ", ".join(f"{c.name} {TRINO_TYPES[c.warehouse_type]}" for c in table.columns)

    def ensure(self, table: SourceTable) -> None:
        c = self.conn
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(self.catalog, self.schema)}")
        c.execute(f"CREATE TABLE IF NOT EXISTS {self.landing_table(table)} ({self._columns_ddl(table)})")
        c.execute(f"CREATE TABLE IF NOT EXISTS {self.batch_table(table)} ({self._columns_ddl(table)})")
        c.execute(
            f"CREATE TABLE IF NOT EXISTS {self.rel('_watermarks')} (source_table VARCHAR, source VARCHAR, "
            f"max_updated_at {TS}, rows_total BIGINT, run_id VARCHAR, landed_at {TS})"
        )
        c.execute(
            f"CREATE TABLE IF NOT EXISTS {self.rel('_extract_batches')} (run_id VARCHAR, source_table VARCHAR, "
            f"source VARCHAR, mode VARCHAR, read_since {TS}, rows_extracted BIGINT, rows_total BIGINT, "
            f"watermark_before {TS}, watermark_after {TS}, started_at {TS}, landed_at {TS})"
        )
        keys = "".join(
            f"{name} {'BIGINT' if t == 'BIGINT' else 'VARCHAR'}, " for name, t in CHANGE_KEY_COLUMNS
        )
        c.execute(
            f"CREATE TABLE IF NOT EXISTS {self.rel('_changed_keys')} (change_batch BIGINT, "
            f"source_table VARCHAR, {keys}full_refresh BOOLEAN, landed_at {TS})"
        )
        c.execute(
            f"CREATE TABLE IF NOT EXISTS {self.rel('_pending_batches')} (source_table VARCHAR, source VARCHAR, "
            f"mode VARCHAR, read_since {TS}, watermark_before {TS}, rows_extracted BIGINT, run_id VARCHAR, "
            f"started_at {TS}, staged_at {TS}, checked_ok BOOLEAN)"
        )
        c.execute(
            f"CREATE TABLE IF NOT EXISTS {self.rel('_accepted_rows')} (source_table VARCHAR, row_key VARCHAR, "
            f"updated_at {TS}, accepted_at {TS}, accepted_by VARCHAR, reason VARCHAR, staged_by_run VARCHAR)"
        )

    # --------------------------------------------------------------------------------- watermarks

    def read_watermark(self, table: SourceTable) -> Watermark | None:
        rows = self.conn.execute(
            f"SELECT source, max_updated_at, rows_total FROM {self.rel('_watermarks')} "
            f"WHERE source_table = {literal(table.asset_name)} ORDER BY landed_at DESC LIMIT 1"
        )
        return Watermark(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    # -------------------------------------------------------------------------------------- stage

    def stage(
        self,
        table: SourceTable,
        fill_batch: Callable[[], int],
        plan: ReadPlan,
        *,
        source_label: str,
        run_id: str | None,
        started_at: datetime,
        writes: AbstractContextManager | None = None,
    ) -> Landed:
        """Replace `<table>__last_batch` with this run's rows (`fill_batch`, one Iceberg commit) and
        record it as pending, holding `writes` while recording (`_pending_batches` is every table's:
        two concurrent commits to it race). The landing table is untouched; returns what promoting
        would give."""
        fill_batch()
        with writes if writes is not None else nullcontext():
            return self._record_pending(
                table, plan, source_label=source_label, run_id=run_id, started_at=started_at
            )

    def _record_pending(
        self,
        table: SourceTable,
        plan: ReadPlan,
        *,
        source_label: str,
        run_id: str | None,
        started_at: datetime,
    ) -> Landed:
        c, batch, target, pk = (
            self.conn,
            self.batch_table(table),
            self.landing_table(table),
            table.primary_key,
        )
        name = literal(table.asset_name)
        rows_extracted, distinct_keys, batch_max = c.execute(
            f"SELECT count(*), count(DISTINCT {pk}), max(updated_at) FROM {batch}"
        )[0]
        if plan.full_refresh:
            rows_total, landed_max = distinct_keys, batch_max
        else:
            kept, kept_max = c.execute(
                f"SELECT count(*), max(updated_at) FROM {target} AS t "
                f"WHERE NOT EXISTS (SELECT 1 FROM {batch} AS b WHERE b.{pk} = t.{pk})"
            )[0]
            rows_total = kept + distinct_keys
            landed_max = max((v for v in (kept_max, batch_max) if v is not None), default=None)
        c.execute(f"DELETE FROM {self.rel('_pending_batches')} WHERE source_table = {name}")
        values = [
            table.asset_name,
            source_label,
            plan.mode,
            plan.read_since,
            plan.watermark_before,
            rows_extracted,
            run_id,
            started_at,
        ]
        c.execute(
            f"INSERT INTO {self.rel('_pending_batches')} VALUES "
            f"({', '.join(literal(v) for v in values)}, current_timestamp(6), FALSE)"
        )
        projected = watermark_after(plan.full_refresh, plan.watermark_before, landed_max)
        return Landed(rows_extracted=rows_extracted, rows_total=rows_total, watermark_after=projected)

    def mark_checked(self, table: SourceTable) -> None:
        self.conn.execute(
            f"UPDATE {self.rel('_pending_batches')} SET checked_ok = TRUE "
            f"WHERE source_table = {literal(table.asset_name)}"
        )

    def pending_mode(self, table: SourceTable) -> str | None:
        rows = self.conn.execute(
            f"SELECT mode FROM {self.rel('_pending_batches')} WHERE source_table = {literal(table.asset_name)}"
        )
        return rows[0][0] if rows else None

    # ------------------------------------------------------------------------------------ promote

    def promote(self, tables: tuple[SourceTable, ...]) -> dict[str, Landed]:
        landed: dict[str, Landed] = {}
        for table in tables:
            result = self._promote_one(table)
            if result is not None:
                landed[table.asset_name] = result
        return landed

    def _promote_one(self, table: SourceTable) -> Landed | None:
        c, batch, target, pk = (
            self.conn,
            self.batch_table(table),
            self.landing_table(table),
            table.primary_key,
        )
        name = literal(table.asset_name)
        rows = c.execute(
            f"SELECT source, mode, read_since, watermark_before, run_id, started_at "
            f"FROM {self.rel('_pending_batches')} WHERE source_table = {name} AND checked_ok"
        )
        if not rows:
            return None
        source, mode, read_since, watermark_before, run_id, started_at = rows[0]
        full_refresh = mode == "full_refresh"
        rows_extracted = c.scalar(f"SELECT count(*) FROM {batch}")
        # One number per batch, increasing (one writer at a time): microseconds since the epoch.
        change_batch = time.time_ns() // 1000
        self._log_changes(table, change_batch, full_refresh=full_refresh, any_rows=bool(rows_extracted))
        cols = table.column_names
        newest = (
            f"(SELECT {', '.join(cols)} FROM (SELECT *, row_number() OVER (PARTITION BY {pk} "
            f"ORDER BY updated_at DESC) AS _rn FROM {batch}) WHERE _rn = 1)"
        )
        if full_refresh:
            c.execute(f"DELETE FROM {target}")
            c.execute(f"INSERT INTO {target} SELECT {', '.join(cols)} FROM {newest}")
        elif rows_extracted:
            sets = ", ".join(f"{col} = s.{col}" for col in cols if col != pk)
            c.execute(
                f"MERGE INTO {target} AS t USING {newest} AS s ON t.{pk} = s.{pk} "
                f"WHEN MATCHED THEN UPDATE SET {sets} "
                f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) VALUES ({', '.join('s.' + col for col in cols)})"
            )
        rows_total, landed_max = c.execute(f"SELECT count(*), max(updated_at) FROM {target}")[0]
        after = watermark_after(full_refresh, watermark_before, landed_max)
        c.execute(f"DELETE FROM {self.rel('_watermarks')} WHERE source_table = {name}")
        values = [table.asset_name, source, after, rows_total, run_id]
        c.execute(
            f"INSERT INTO {self.rel('_watermarks')} VALUES ({', '.join(literal(v) for v in values)}, "
            "current_timestamp(6))"
        )
        values = [
            run_id,
            table.asset_name,
            source,
            mode,
            read_since,
            rows_extracted,
            rows_total,
            watermark_before,
            after,
            started_at,
        ]
        c.execute(
            f"INSERT INTO {self.rel('_extract_batches')} VALUES ({', '.join(literal(v) for v in values)}, "
            "current_timestamp(6))"
        )
        c.execute(f"DELETE FROM {self.rel('_pending_batches')} WHERE source_table = {name}")
        return Landed(rows_extracted=rows_extracted, rows_total=rows_total, watermark_after=after)

    def _log_changes(
        self, table: SourceTable, change_batch: int, *, full_refresh: bool, any_rows: bool
    ) -> None:
        """The batch's keys, and the keys of the versions it replaces, before the upsert."""
        if not (full_refresh or any_rows):
            return
        c, batch, target, pk = (
            self.conn,
            self.batch_table(table),
            self.landing_table(table),
            table.primary_key,
        )
        log, name = self.rel("_changed_keys"), literal(table.asset_name)
        c.execute(f"DELETE FROM {log} WHERE change_batch = {change_batch}")
        if full_refresh:
            nulls = ", ".join(
                f"CAST(NULL AS {'BIGINT' if t == 'BIGINT' else 'VARCHAR'})" for _, t in CHANGE_KEY_COLUMNS
            )
            c.execute(
                f"INSERT INTO {log} VALUES ({change_batch}, {name}, {nulls}, TRUE, current_timestamp(6))"
            )
            return
        keys = ", ".join(
            column
            if column in table.change_keys
            else f"CAST(NULL AS {'BIGINT' if t == 'BIGINT' else 'VARCHAR'})"
            for column, t in CHANGE_KEY_COLUMNS
        )
        differs = " OR ".join(f"new.{col} IS DISTINCT FROM old.{col}" for col in table.column_names)
        changed = (
            f"SELECT new.* FROM {batch} AS new LEFT JOIN {target} AS old ON old.{pk} = new.{pk} "
            f"WHERE old.{pk} IS NULL OR {differs}"
        )
        c.execute(
            f"INSERT INTO {log} SELECT {change_batch}, {name}, k.*, FALSE, current_timestamp(6) FROM ("
            f"SELECT {keys} FROM ({changed}) UNION "
            f"SELECT {keys} FROM {target} WHERE {pk} IN (SELECT {pk} FROM ({changed}))) AS k"
        )

    # ------------------------------------------------------------------------------------- accept

    def batch_keys(self, table: SourceTable) -> set[str]:
        """The primary keys (as text) of the staged batch."""
        pk = table.primary_key
        return {
            row[0]
            for row in self.conn.execute(
                f"SELECT DISTINCT CAST({pk} AS VARCHAR) FROM {self.batch_table(table)}"
            )
        }

    def accept_pending(
        self, table: SourceTable, *, reason: str, accepted_by: str, keys: Collection[str] | None = None
    ) -> int:
        """As `sources.landing.accept_pending`: record the pending batch's versions of `keys` (every
        version when None) as accepted; returns how many of those asked for are now accepted."""
        c, name, pk = self.conn, literal(table.asset_name), table.primary_key
        rows = c.execute(f"SELECT run_id FROM {self.rel('_pending_batches')} WHERE source_table = {name}")
        if not rows:
            return 0
        run = literal(rows[0][0])
        chosen = (
            ""
            if keys is None
            else f" AND CAST(b.{pk} AS VARCHAR) IN ({', '.join(literal(k) for k in sorted(keys))})"
        )
        accepted = self.rel("_accepted_rows")
        c.execute(
            f"INSERT INTO {accepted} SELECT DISTINCT {name}, CAST(b.{pk} AS VARCHAR), b.updated_at, "
            f"current_timestamp(6), {literal(accepted_by)}, {literal(reason)}, {run} "
            f"FROM {self.batch_table(table)} AS b WHERE NOT EXISTS (SELECT 1 FROM {accepted} AS a "
            f"WHERE a.source_table = {name} AND a.row_key = CAST(b.{pk} AS VARCHAR) AND a.updated_at = b.updated_at)"
            + chosen
        )
        asked = "" if keys is None else f" AND row_key IN ({', '.join(literal(k) for k in sorted(keys))})"
        return int(
            c.scalar(
                f"SELECT count(*) FROM {accepted} WHERE source_table = {name} "
                f"AND staged_by_run IS NOT DISTINCT FROM {run}{asked}"
            )
        )
