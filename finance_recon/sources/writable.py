"""A writable DB-API connection to a source, for what writes into the sources: the correctness
prober's inserts (`finance_recon.probe.inject`), the demo seeder (`finance_recon.demo`), the tests.

The extraction never writes: its readers (`readers/`) open their own read-only connections. Every
connection here runs in UTC, with autocommit off (commit is the caller's).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from .urls import SourceUrl


def _connect_mysql(source: SourceUrl, options: dict):
    import pymysql

    u = source.url
    return pymysql.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        database=u.database,
        init_command="SET time_zone = '+00:00'",
        **options,
    )


def _connect_postgres(source: SourceUrl, options: dict):
    import psycopg2

    u = source.url
    conn = psycopg2.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        dbname=u.database or "postgres",
        **options,
    )
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
    return conn


def _connect_duckdb(source: SourceUrl, options: dict):
    import duckdb

    conn = duckdb.connect(source.database, **options)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


_CONNECT = {"mysql": _connect_mysql, "postgresql": _connect_postgres, "duckdb": _connect_duckdb}


@contextmanager
def connect(url: str | SourceUrl, **options) -> Iterator:
    """A writable DB-API connection to a source URL, closed on exit. `options` go to the driver's
    `connect` (the seeder's MySQL loader asks for `local_infile`)."""
    src = url if isinstance(url, SourceUrl) else SourceUrl.parse(url)
    if src.dialect not in _CONNECT:
        raise ValueError(f"no writable connection for {src.redacted}")
    conn = _CONNECT[src.dialect](src, options)
    try:
        yield conn
    finally:
        conn.close()


def bind_timestamp(ts: datetime, dialect_name: str):
    """A timestamp as the engine's driver binds it: MySQL DATETIME takes naive UTC, the others aware."""
    return ts.astimezone(UTC).replace(tzinfo=None) if dialect_name == "mysql" else ts.astimezone(UTC)
