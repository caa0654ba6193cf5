"""The embedded demo source (a DuckDB file): DDL and bulk load."""

from __future__ import annotations

import os

import pyarrow as pa

from finance_recon.contracts import SourceTable
from finance_recon.sources.urls import SourceUrl

from . import chunks

CONNECT_OPTIONS: dict = {}


def create_database(source: SourceUrl) -> None:
    """The file's folder (DuckDB creates the file itself on connect)."""
    os.makedirs(os.path.dirname(os.path.abspath(source.database)), exist_ok=True)


def ddl(table: SourceTable) -> list[str]:
    """The contract table with the warehouse's types (TIMESTAMPTZ, DECIMAL(18,2))."""
    cols = ", ".join(f"{c.name} {c.warehouse_type}{'' if c.nullable else ' NOT NULL'}" for c in table.columns)
    return [f"CREATE TABLE IF NOT EXISTS {table.table} ({cols}, PRIMARY KEY ({table.primary_key}))"]


def bulk_load(
    conn, table: SourceTable, data: pa.Table, bar, *, rebuild_indexes: bool, chunk_rows: int
) -> None:
    """A straight insert from Arrow, chunk by chunk."""
    for chunk in chunks(data, chunk_rows):
        conn.register("_seed_chunk", chunk)
        conn.execute(f"INSERT INTO {table.table} SELECT * FROM _seed_chunk")
        conn.unregister("_seed_chunk")
        if bar:
            bar.update(chunk.num_rows)
