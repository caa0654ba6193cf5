"""Streaming readers, one per source engine, behind one small interface (`SourceReader`).

Each reader checks the contract in `information_schema` before reading, then yields Arrow record
batches of at most about `batch_rows` rows with exactly the contract schema (`SourceTable.arrow_schema`):
money stays `decimal128(18, 2)` end to end, timestamps are UTC-aware microseconds.
"""

from __future__ import annotations

import importlib
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
    """The module of the URL's engine: its reader, `quote` and `relation` (the Spark JDBC reads use them)."""
    if source.dialect not in _MODULES:
        raise ValueError(f"no dialect module for {source.redacted}")
    return importlib.import_module(f"{__name__}.{_MODULES[source.dialect]}")


__all__ = ["SourceReader", "dialect", "open_reader"]
