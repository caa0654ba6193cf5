"""Streaming readers, one per source engine, behind one small interface (`SourceReader`).

Each reader checks the contract in `information_schema` before reading, then yields Arrow record
batches of at most about `batch_rows` rows with exactly the contract schema (`SourceTable.arrow_schema`):
money stays `decimal128(18, 2)` end to end, timestamps are UTC-aware microseconds.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import ModuleType

from ..urls import SourceUrl
from .base import SourceReader


def open_reader(
    source: SourceUrl, *, connect_timeout_s: float = 10.0, mysql_reader: str = "client"
) -> SourceReader:
    """The reader for the URL's engine (not yet connected: use it as a context manager);
    `mysql_reader` is how a MySQL/MariaDB source streams (FINANCE_RECON_MYSQL_READER)."""
    if source.dialect == "duckdb":
        from .duckdb import DuckDBReader

        return DuckDBReader(source, connect_timeout_s=connect_timeout_s)
    if source.dialect == "postgresql":
        from .postgres import PostgresReader

        return PostgresReader(source, connect_timeout_s=connect_timeout_s)
    if source.dialect == "mysql":
        from .mysql import MySQLReader

        return MySQLReader(source, connect_timeout_s=connect_timeout_s, mysql_reader=mysql_reader)
    raise ValueError(f"no reader for {source.redacted}")


_MODULES = {"duckdb": "duckdb", "postgresql": "postgres", "mysql": "mysql"}


def dialect(source: SourceUrl) -> ModuleType:
    """The module of the URL's engine: its reader and its `ddl`, `connect_writable`, `bulk_load`."""
    if source.dialect not in _MODULES:
        raise ValueError(f"no dialect module for {source.redacted}")
    return importlib.import_module(f"{__name__}.{_MODULES[source.dialect]}")


@contextmanager
def connect(url: str | SourceUrl, *, create_database: bool = False) -> Iterator:
    """A writable DB-API connection to a source URL (autocommit off; commit is the caller's): the
    seeder's bulk loads and mutations, the correctness prober's inserts, the tests."""
    src = url if isinstance(url, SourceUrl) else SourceUrl.parse(url)
    conn = dialect(src).connect_writable(src, create_database=create_database)
    try:
        yield conn
    finally:
        conn.close()


def bind_timestamp(ts: datetime, dialect_name: str):
    """A timestamp as the engine's driver binds it: MySQL DATETIME takes naive UTC, the others aware."""
    return ts.astimezone(UTC).replace(tzinfo=None) if dialect_name == "mysql" else ts.astimezone(UTC)


__all__ = ["SourceReader", "bind_timestamp", "connect", "dialect", "open_reader"]
