"""The Parquet lake: one folder per contract table, an immutable snapshot per landing, one pointer.

    <lake>/landing/<table>/snapshots/<version>/data/*.parquet    latest version of every row
    <lake>/landing/<table>/snapshots/<version>/batch/*.parquet   exactly the rows that run extracted
    <lake>/landing/<table>/snapshots/<version>/_state.json       watermark, source, counts, run id
    <lake>/landing/<table>/current -> snapshots/<version>          the commit point (atomic rename)
    <lake>/landing/<table>/_log.jsonl                             one line per successful landing

Plain Parquet has no transactions, so a landing writes a whole new snapshot next to the current one
and commits by atomically replacing the `current` symlink: readers see the old snapshot or the new
one, never a mix, and a crash before the swap leaves the previous snapshot current (the orphan is
garbage-collected later). Data, batch and watermark move together. Readers address
`current/data` (DuckDB views, Spark tables), so nothing has to be re-pointed after a landing.

The cost of this design is a full rewrite of the table per landing; an object store (no symlinks,
no atomic rename) calls for a table format (Iceberg) instead — see docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from finance_recon.contracts import SourceTable
from finance_recon.warehouse import LANDING_SCHEMA

STATE_FILE = "_state.json"


@dataclass(frozen=True)
class LakeState:
    """What the `current` snapshot holds (the Spark path's equivalent of `landing._watermarks`)."""

    table: str
    version: str
    source: str
    mode: str
    max_updated_at: str | None  # ISO-8601 UTC
    rows_total: int
    rows_extracted: int
    read_since: str | None
    watermark_before: str | None
    run_id: str | None
    started_at: str
    landed_at: str

    @property
    def watermark(self) -> datetime | None:
        return datetime.fromisoformat(self.max_updated_at) if self.max_updated_at else None


@dataclass(frozen=True)
class Lake:
    root: Path

    def table_dir(self, table: SourceTable) -> Path:
        return self.root / LANDING_SCHEMA / table.asset_name

    def current(self, table: SourceTable) -> Path:
        return self.table_dir(table) / "current"

    def data_path(self, table: SourceTable) -> Path:
        """The stable path readers use (through the `current` pointer)."""
        return self.current(table) / "data"

    def batch_path(self, table: SourceTable) -> Path:
        return self.current(table) / "batch"

    def snapshot(self, table: SourceTable, version: str) -> Path:
        return self.table_dir(table) / "snapshots" / version

    def new_version(self) -> str:
        # Sortable by time, unique across concurrent writers.
        return f"{time.time_ns() // 1000:017d}-{uuid.uuid4().hex[:8]}"

    def current_version(self, table: SourceTable) -> str | None:
        link = self.current(table)
        return os.readlink(link).rsplit("/", 1)[-1] if link.is_symlink() else None

    def resolved_data_path(self, table: SourceTable) -> Path | None:
        version = self.current_version(table)
        return self.snapshot(table, version) / "data" if version else None

    def read_state(self, table: SourceTable) -> LakeState | None:
        version = self.current_version(table)
        if version is None:
            return None
        path = self.snapshot(table, version) / STATE_FILE
        return LakeState(**json.loads(path.read_text()))

    def commit(self, table: SourceTable, state: LakeState, *, keep: int = 3) -> None:
        """Write the snapshot's state, swap `current` to it atomically, log it, collect old snapshots."""
        snap = self.snapshot(table, state.version)
        (snap / STATE_FILE).write_text(json.dumps(asdict(state), indent=2, sort_keys=True))
        link = self.current(table)
        tmp = link.with_name(f".current-{uuid.uuid4().hex[:8]}")
        os.symlink(f"snapshots/{state.version}", tmp)
        os.replace(tmp, link)  # atomic on POSIX: the commit point
        with open(self.table_dir(table) / "_log.jsonl", "a") as log:
            log.write(json.dumps(asdict(state), sort_keys=True) + "\n")
        self.collect_garbage(table, keep=keep)

    def collect_garbage(self, table: SourceTable, *, keep: int = 3) -> list[str]:
        """Delete snapshots older than the `keep` newest (the current one is always kept).
        Readers that started on an old snapshot have `keep - 1` landings to finish."""
        snaps = self.table_dir(table) / "snapshots"
        if not snaps.is_dir():
            return []
        current = self.current_version(table)
        versions = sorted(p.name for p in snaps.iterdir() if p.is_dir())
        doomed = [v for v in versions[:-keep] if v != current] if keep > 0 else []
        for v in doomed:
            shutil.rmtree(snaps / v, ignore_errors=True)
        return doomed


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


# ---------------------------------------------------------------------------------- engines on the lake


def duckdb_view_sql(lake: Lake, table: SourceTable) -> list[str]:
    """DuckDB views `landing.<table>` and `landing.<table>__last_batch` over the lake, typed exactly as
    the embedded landing tables, so dbt sources, the report and the checks read them unchanged."""

    def select(path: Path) -> str:
        glob = str(path / "*.parquet").replace("'", "''")
        casts = ", ".join(f"CAST({c.name} AS {c.warehouse_type}) AS {c.name}" for c in table.columns)
        return f"SELECT {casts} FROM read_parquet('{glob}')"

    return [
        f"CREATE SCHEMA IF NOT EXISTS {LANDING_SCHEMA}",
        f"CREATE OR REPLACE VIEW {LANDING_SCHEMA}.{table.asset_name} AS {select(lake.data_path(table))}",
        f"CREATE OR REPLACE VIEW {LANDING_SCHEMA}.{table.asset_name}__last_batch AS {select(lake.batch_path(table))}",
    ]


def register_duckdb_views(conn, lake: Lake, tables: tuple[SourceTable, ...] | list[SourceTable]) -> list[str]:
    """Point the warehouse's `landing.*` at the lake. An embedded-path landing *table* of the same name
    is dropped first (the lake is now the landing; its watermark row goes too, so switching back to
    the embedded engine starts with a full refresh), and so does the embedded change log. Returns what
    was dropped."""
    dropped = []
    for table in tables:
        for name in (table.asset_name, f"{table.asset_name}__last_batch"):
            row = conn.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [LANDING_SCHEMA, name],
            ).fetchone()
            if row and row[0] == "BASE TABLE":
                conn.execute(f"DROP TABLE {LANDING_SCHEMA}.{name}")
                dropped.append(f"{LANDING_SCHEMA}.{name}")
        has_marks = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = '_watermarks'",
            [LANDING_SCHEMA],
        ).fetchone()[0]
        if has_marks:
            conn.execute(
                f"DELETE FROM {LANDING_SCHEMA}._watermarks WHERE source_table = ?", [table.asset_name]
            )
        for stmt in duckdb_view_sql(lake, table):
            conn.execute(stmt)
    # The lake records no change log, so the incremental state must not trust an old one left by the
    # embedded landing: without it, every build classifies every item
    # (dbt_project/macros/incremental_state/plan.sql).
    conn.execute(f"DROP TABLE IF EXISTS {LANDING_SCHEMA}._changed_keys")
    return dropped


def register_spark_tables(spark, lake: Lake, tables, schema: str = LANDING_SCHEMA) -> None:
    """The same landing tables in a Spark session's catalog (external Parquet tables). dbt runs do this
    themselves through the `register_landing_lake` macro; this is for code holding a session."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
    for table in tables:
        for name, path in (
            (table.asset_name, lake.data_path(table)),
            (f"{table.asset_name}__last_batch", lake.batch_path(table)),
        ):
            spark.sql(f"DROP TABLE IF EXISTS {schema}.{name}")
            spark.sql(f"CREATE TABLE {schema}.{name} USING parquet LOCATION '{path}'")
