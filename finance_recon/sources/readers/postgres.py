"""PostgreSQL: `COPY (SELECT …) TO STDOUT (FORMAT csv)` streamed through a pipe into pyarrow's CSV reader.

Why this path (environment.md, 1M rows): the DuckDB postgres scanner is faster but only ships for
duckdb 1.4.4 (the project runs a newer DuckDB); connectorx widens DECIMAL to (38,10); ADBC returns
amounts as strings; `pandas.read_sql` is ~5× slower and turns money into float64. COPY keeps every
value as the server's own text, and the CSV reader converts it with explicit contract types
(`decimal128(18,2)`, `timestamp[us, UTC]`) in C++ — no Python object per value, memory bounded by
the block size. The COPY runs in a thread writing into an OS pipe, so reading and parsing overlap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pyarrow.csv as pacsv

from ...contracts import SourceTable
from ..errors import (
    POSTGRES_REJECTIONS,
    ContractViolationError,
    SourceRejectedError,
    one_line,
)
from ..urls import SourceUrl
from .base import SourceColumn, SourceReader, as_utc, conform

BYTES_PER_ROW_ESTIMATE = 96


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


quote = _ident  # the dialect's identifier quoting, for other SQL on this engine (Spark JDBC predicates)


def relation(source: SourceUrl, table: SourceTable) -> str:
    """The table as SQL names it on this engine: schema from the URL (default public), then table."""
    return f"{_ident(source.schema or 'public')}.{_ident(table.table)}"


class PostgresReader(SourceReader):
    default_port = 5432

    @property
    def schema_name(self) -> str:
        return self.source.schema or "public"

    def where(self, table: SourceTable) -> str:
        u = self.source.url
        return f"source {self.source.redacted} (host {u.host}:{u.port or 5432}, database {u.database}, schema {self.schema_name})"

    def __enter__(self) -> PostgresReader:
        import psycopg2

        u = self.source.url
        try:
            self.conn = psycopg2.connect(
                host=u.host or "127.0.0.1",
                port=u.port or 5432,
                user=u.username,
                password=u.password,
                dbname=u.database,
                connect_timeout=max(1, int(self.connect_timeout_s)),
                application_name="finance_recon.extract",
                **{k: v for k, v in (u.query or {}).items() if k in ("sslmode",)},
            )
            self.conn.set_session(readonly=True, autocommit=False)
            with self.conn.cursor() as cur:
                cur.execute("SET TIME ZONE 'UTC'")
        except psycopg2.Error as exc:
            if any(text in str(exc) for text in POSTGRES_REJECTIONS):
                raise SourceRejectedError(
                    f"source {self.source.redacted} refused the connection (host {u.host}:{u.port or 5432}, "
                    f"database {u.database}): {one_line(exc)} — check the user, password and database "
                    "in the source URL"
                ) from None
            raise self._unavailable(exc) from None
        return self

    def __exit__(self, *exc) -> None:
        import psycopg2

        # A read-only session has nothing to roll back that matters; on a dropped connection the
        # rollback itself fails ("connection already closed") and must not replace the real error.
        with contextlib.suppress(psycopg2.Error):
            if not self.conn.closed:
                self.conn.rollback()
        with contextlib.suppress(psycopg2.Error):
            self.conn.close()

    def columns(self, table: SourceTable) -> list[SourceColumn]:
        import psycopg2

        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT lower(column_name), lower(data_type), numeric_precision, numeric_scale "
                    "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                    "ORDER BY ordinal_position",
                    [self.schema_name, table.table],
                )
                return [SourceColumn(*r) for r in cur.fetchall()]
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            raise self._unavailable(exc) from None

    def select_sql(self, table: SourceTable, since: datetime | None, checked: dict[str, SourceColumn]) -> str:
        exprs = []
        for c in table.columns:
            col = _ident(c.name)
            # Render timestamptz as naive UTC text; the CSV reader reads it as timestamp[us] and `conform`
            # tags it UTC. (A `timestamp without time zone` column is UTC by contract already.)
            if checked[c.name].data_type == "timestamp with time zone":
                col = f"({col} AT TIME ZONE 'UTC')"
            exprs.append(col)
        sql = f"SELECT {', '.join(exprs)} FROM {_ident(self.schema_name)}.{_ident(table.table)}"
        if since is not None:
            with self.conn.cursor() as cur:
                sql += cur.mogrify(" WHERE updated_at > %s", [since]).decode()
        return sql

    def max_updated_at(self, table: SourceTable) -> datetime | None:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT MAX(updated_at) FROM {_ident(self.schema_name)}.{_ident(table.table)}")
            rows = cur.fetchall()
        return as_utc(rows[0][0]) if rows else None

    def read(
        self, table: SourceTable, since: datetime | None, batch_rows: int, checked: dict[str, SourceColumn]
    ) -> Iterator[pa.RecordBatch]:
        copy_sql = f"COPY ({self.select_sql(table, since, checked)}) TO STDOUT WITH (FORMAT csv)"
        where = self.where(table)
        yield from copy_csv_batches(self.conn, copy_sql, table, batch_rows, where, self._unavailable)


def csv_options(table: SourceTable, batch_rows: int):
    types = {}
    for c in table.columns:
        t = c.arrow_type
        types[c.name] = pa.timestamp(t.unit) if pa.types.is_timestamp(t) else t
    block = min(64 << 20, max(1 << 20, batch_rows * BYTES_PER_ROW_ESTIMATE))
    return (
        pacsv.ReadOptions(column_names=table.column_names, block_size=block, use_threads=True),
        pacsv.ParseOptions(newlines_in_values=True),
        # COPY CSV writes NULL as an unquoted empty field and '' as "": keep them apart.
        pacsv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )


def copy_csv_batches(conn, copy_sql, table, batch_rows, where, unavailable) -> Iterator[pa.RecordBatch]:
    """Run COPY … TO STDOUT in a thread into a pipe; parse the other end with pyarrow, batch by batch."""
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError, AttributeError):  # 1 MiB pipe (Linux): fewer wake-ups per block
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as sink, conn.cursor() as cur:
                cur.copy_expert(copy_sql, sink, size=1 << 20)
        except BaseException as exc:  # handed to the consumer below
            errors.append(exc)

    thread = threading.Thread(target=pump, name="pg-copy", daemon=True)
    thread.start()
    source = os.fdopen(read_fd, "rb", buffering=0)
    finished = False
    try:
        read_opts, parse_opts, convert_opts = csv_options(table, batch_rows)
        try:
            reader = pacsv.open_csv(
                source, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts
            )
            for batch in reader:
                if batch.num_rows:
                    yield conform(batch, table, where)
        except pa.ArrowInvalid as exc:
            source.close()
            thread.join()
            if errors:  # the COPY failed first: the parse error is only its echo
                raise unavailable(errors[0]) from None
            if "Empty CSV file" in str(exc):
                return
            raise ContractViolationError(
                f"{where}: a value does not match the contract types ({one_line(exc, 200)})"
            ) from None
        finished = True
    finally:
        source.close()
        thread.join()
    if finished and errors:
        raise unavailable(errors[0]) from None
