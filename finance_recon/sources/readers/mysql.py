"""MySQL / MariaDB: the server's own text protocol streamed into Arrow, never a Python object per value.

Why this path (environment.md): the DuckDB mysql scanner is the fastest option but only ships for
duckdb 1.4.4 (the project runs a newer DuckDB); connectorx widens DECIMAL; `pandas.read_sql` is
~15–30× slower and turns money into float64. Two streaming paths, same result:

1. **client** (default when the `mariadb`/`mysql` command-line client is installed, as it is beside the
   server on the platform's machines): `mariadb --batch --quick` streams rows as tab-separated text
   (C speed, unbuffered) into pyarrow's CSV reader with explicit types. Strings are selected as
   `CONCAT('=', col)` so SQL NULL (printed `NULL`) and the string 'NULL' stay apart; the client's
   backslash escapes (\t, \n, \\, \0) are undone. The password goes through `MYSQL_PWD` in the
   child's environment only, never on its command line.
2. **pymysql**: an unbuffered `SSCursor` with value conversion switched off (the server's text, no
   `Decimal`/`datetime` objects), `batch_rows` rows per `fetchmany`, transposed into Arrow string
   columns. Pure Python, so 3–5× slower; used when no client binary exists or
   `FINANCE_RECON_MYSQL_READER=pymysql`.

Either way Arrow's C++ casts produce `decimal128(18,2)` and `timestamp[us]` exactly (a lossy cast is
an error, never a rounding) and memory stays bounded by the batch.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ...contracts import SourceTable
from ..errors import (
    MYSQL_REJECTION_CODES,
    ContractViolationError,
    SourceRejectedError,
    SourceUnavailableError,
    one_line,
)
from ..urls import SourceUrl
from .base import SourceColumn, SourceReader, as_utc, chunks, conform

BYTES_PER_ROW_ESTIMATE = 96
_ESCAPES = {"n": "\n", "t": "\t", "0": "\0", "\\": "\\", "r": "\r", "Z": "\x1a"}
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


quote = _ident  # the dialect's identifier quoting, for other SQL on this engine (Spark JDBC predicates)


def relation(source: SourceUrl, table: SourceTable) -> str:
    """The table as SQL names it on this engine (the URL's database is the connection's)."""
    return _ident(table.table)


def client_binary(mysql_reader: str = "client") -> str | None:
    """The MySQL/MariaDB command-line client to stream with, or None for the pymysql path
    (`mysql_reader`, FINANCE_RECON_MYSQL_READER: "pymysql" never uses the client)."""
    if mysql_reader == "pymysql":
        return None
    return shutil.which("mariadb") or shutil.which("mysql")


def _unescape(value: str | None) -> str | None:
    return None if value is None else _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), value)


class MySQLReader(SourceReader):
    default_port = 3306

    def __init__(self, source: SourceUrl, *, connect_timeout_s: float = 10.0, mysql_reader: str = "client"):
        super().__init__(source, connect_timeout_s=connect_timeout_s)
        self.mysql_reader = mysql_reader

    def where(self, table: SourceTable) -> str:
        u = self.source.url
        return f"source {self.source.redacted} (host {u.host}:{u.port or 3306}, database {u.database})"

    def __enter__(self) -> MySQLReader:
        import pymysql
        import pymysql.converters

        u = self.source.url
        # Keep the encoders (for parameters) but no decoders: every value arrives as the server's text.
        encoders = {k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)}
        try:
            self.conn = pymysql.connect(
                host=u.host or "127.0.0.1",
                port=u.port or 3306,
                user=u.username or "root",
                password=u.password or "",
                database=u.database,
                connect_timeout=self.connect_timeout_s,
                read_timeout=600,
                conv=encoders,
                charset="utf8mb4",
                init_command="SET time_zone = '+00:00'",
                cursorclass=pymysql.cursors.SSCursor,
            )
        except pymysql.Error as exc:
            if exc.args and exc.args[0] in MYSQL_REJECTION_CODES:
                raise SourceRejectedError(
                    f"source {self.source.redacted} refused the connection (host {u.host}:{u.port or 3306}, "
                    f"database {u.database}): {one_line(exc)} — check the user, password and database "
                    "in the source URL"
                ) from None
            raise self._unavailable(exc) from None
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def columns(self, table: SourceTable) -> list[SourceColumn]:
        import pymysql

        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT lower(column_name), lower(data_type), numeric_precision, numeric_scale "
                    "FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s "
                    "ORDER BY ordinal_position",
                    [table.table],
                )
                rows = cur.fetchall()
        except (pymysql.OperationalError, pymysql.InterfaceError) as exc:
            raise self._unavailable(exc) from None
        return [
            SourceColumn(
                r[0], r[1], int(r[2]) if r[2] is not None else None, int(r[3]) if r[3] is not None else None
            )
            for r in rows
        ]

    def max_updated_at(self, table: SourceTable) -> datetime | None:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT MAX({_ident('updated_at')}) FROM {_ident(table.table)}")
            rows = cur.fetchall()
        return as_utc(rows[0][0]) if rows else None

    def read(
        self, table: SourceTable, since: datetime | None, batch_rows: int, checked: dict[str, SourceColumn]
    ) -> Iterator[pa.RecordBatch]:
        since_text = None
        if since is not None:
            # DATETIME holds naive UTC (contracts §1); the session time zone is UTC for TIMESTAMP columns.
            since_text = (
                since.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            )
        binary = client_binary(self.mysql_reader)
        if binary:
            yield from self._read_client(binary, table, since_text, batch_rows)
        else:
            yield from self._read_pymysql(table, since_text, batch_rows)

    def _read_client(
        self, binary: str, table: SourceTable, since_text: str | None, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        strings = {c.name for c in table.columns if pa.types.is_string(c.arrow_type)}
        exprs = [
            f"IF({_ident(c)} IS NULL, NULL, CONCAT('=', {_ident(c)}))" if c in strings else _ident(c)
            for c in table.column_names
        ]
        sql = f"SELECT {', '.join(exprs)} FROM {_ident(table.table)}"
        if since_text is not None:
            sql += f" WHERE updated_at > '{since_text}'"
        u = self.source.url
        cmd = [
            binary,
            "--no-defaults",
            "--batch",
            "--skip-column-names",
            "--quick",
            "--protocol=TCP",
            f"--host={u.host or '127.0.0.1'}",
            f"--port={u.port or 3306}",
            f"--user={u.username or 'root'}",
            f"--database={u.database}",
            "--default-character-set=utf8mb4",
            f"--connect-timeout={max(1, int(self.connect_timeout_s))}",
            "--init-command=SET time_zone = '+00:00'",
            "--execute",
            sql,
        ]
        env = {k: v for k, v in os.environ.items() if k != "MYSQL_PWD"}
        if u.password:
            env["MYSQL_PWD"] = u.password
        types = {}
        for c in table.columns:
            t = c.arrow_type
            types[c.name] = pa.timestamp(t.unit) if pa.types.is_timestamp(t) else t
        read_opts = pacsv.ReadOptions(
            column_names=table.column_names,
            block_size=min(64 << 20, max(1 << 20, batch_rows * BYTES_PER_ROW_ESTIMATE)),
        )
        parse_opts = pacsv.ParseOptions(
            delimiter="\t", quote_char=False, escape_char=False, newlines_in_values=False
        )
        convert_opts = pacsv.ConvertOptions(
            column_types=types, null_values=["NULL"], strings_can_be_null=True
        )
        where = self.where(table)
        with tempfile.TemporaryFile() as stderr:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=stderr, env=env, stdin=subprocess.DEVNULL
            )

            def failure() -> SourceUnavailableError | None:
                code = proc.wait()
                if code == 0:
                    return None
                stderr.seek(0)
                text = stderr.read().decode("utf-8", "replace") or f"client exited with {code}"
                return self._unavailable(RuntimeError(text))

            done = False
            try:
                try:
                    reader = pacsv.open_csv(
                        proc.stdout,
                        read_options=read_opts,
                        parse_options=parse_opts,
                        convert_options=convert_opts,
                    )
                except pa.ArrowInvalid as exc:
                    error = failure()
                    if error:
                        raise error from None
                    if "Empty CSV file" in str(exc):
                        return
                    raise
                for batch in reader:
                    if not batch.num_rows:
                        continue
                    arrays = []
                    for name, arr in zip(table.column_names, batch.columns, strict=True):
                        if name in strings:
                            arr = pc.utf8_slice_codeunits(arr, 1)
                            if pc.any(pc.match_substring(arr, "\\")).as_py():
                                arr = pa.array([_unescape(v) for v in arr.to_pylist()], pa.string())
                        arrays.append(arr)
                    yield conform(pa.RecordBatch.from_arrays(arrays, names=table.column_names), table, where)
                done = True
            except pa.ArrowInvalid as exc:
                proc.kill()
                error = failure()
                if error and proc.returncode > 0:
                    raise error from None
                raise ContractViolationError(
                    f"{where}: table {table.table}: a value does not match the contract types ({one_line(exc, 200)})"
                ) from None
            finally:
                if not done and proc.poll() is None:  # the consumer stopped early or something failed
                    proc.kill()
                proc.stdout.close()
                proc.wait()
            error = failure()
            if error:
                raise error from None

    def _read_pymysql(
        self, table: SourceTable, since_text: str | None, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        import pymysql

        cols = ", ".join(_ident(c) for c in table.column_names)
        sql = f"SELECT {cols} FROM {_ident(table.table)}"
        params: list = []
        if since_text is not None:
            sql += " WHERE updated_at > %s"
            params.append(since_text)
        where = self.where(table)
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                while True:
                    rows = cur.fetchmany(batch_rows)
                    if not rows:
                        break
                    columns = list(zip(*rows, strict=True))
                    arrays = [pa.array(col, pa.string()) for col in columns]
                    batch = pa.RecordBatch.from_arrays(arrays, names=table.column_names)
                    del rows, columns
                    yield conform(batch, table, where)
        except (pymysql.OperationalError, pymysql.InterfaceError) as exc:  # InterfaceError: connection gone
            raise self._unavailable(exc) from None


# --------------------------------------------------------------------------------------------------
# Writing (the demo seeder, the tests, the benchmarks): DDL, a writable connection, bulk load.

_TYPES = {
    "order_id": "BIGINT NOT NULL",
    "customer_id": "BIGINT NOT NULL",
    "status": "VARCHAR(16) NOT NULL",
    "currency": "CHAR(3) NOT NULL",
    "total_amount": "DECIMAL(18,2) NOT NULL",
    "created_at": "DATETIME(6) NOT NULL",
    "updated_at": "DATETIME(6) NOT NULL",
    "payment_id": "VARCHAR(64) NOT NULL",
    "provider": "VARCHAR(32) NOT NULL",
    "kind": "VARCHAR(16) NOT NULL",
    "amount": "DECIMAL(18,2) NOT NULL",
}
_TYPES_PAYMENTS = dict(_TYPES, order_id="BIGINT NULL")


def ddl(table: SourceTable) -> list[str]:
    """The contract table (DATETIME(6) holding naive UTC, DECIMAL(18,2)) with an index on updated_at."""
    from ...contracts import PAYMENTS

    t = table.table
    types = _TYPES_PAYMENTS if table is PAYMENTS else _TYPES
    cols = ", ".join(f"`{c}` {types[c]}" for c in table.column_names)
    return [
        f"CREATE TABLE IF NOT EXISTS `{t}` ({cols}, PRIMARY KEY (`{table.primary_key}`), "
        f"KEY `{t}_updated_at_idx` (`updated_at`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    ]


def connect_writable(source: SourceUrl, *, create_database: bool = False):
    """A DB-API connection in UTC (autocommit off; commit is the caller's)."""
    import pymysql

    u = source.url
    kwargs = dict(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        local_infile=True,
        init_command="SET time_zone = '+00:00'",
    )
    if create_database and u.database:
        admin = pymysql.connect(**kwargs)
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{u.database}`")
        admin.close()
    return pymysql.connect(database=u.database, **kwargs)


def _naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps as naive UTC (MySQL DATETIME has no zone; the contract says the values are UTC)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp(field.type.unit)))
    return table


def bulk_load(
    conn, table: SourceTable, data: pa.Table, bar, *, rebuild_indexes: bool, chunk_rows: int
) -> None:
    """`LOAD DATA LOCAL INFILE` of CSV chunks (multi-row INSERTs when the server forbids it)."""
    import pymysql

    cur = conn.cursor()
    data = _naive_utc(data)
    if rebuild_indexes:  # one sorted index build after the load instead of row-by-row maintenance
        cur.execute(
            "SELECT count(*) FROM information_schema.statistics WHERE table_schema = DATABASE() "
            "AND table_name = %s AND index_name = %s",
            [table.table, f"{table.table}_updated_at_idx"],
        )
        if cur.fetchone()[0]:
            cur.execute(f"ALTER TABLE `{table.table}` DROP INDEX `{table.table}_updated_at_idx`")
        cur.execute("SET SESSION unique_checks = 0")

    cols = ", ".join(f"`{c}`" for c in table.column_names)
    # LOAD DATA reads \N as NULL; pyarrow writes NULL as an empty field, so say so per nullable column.
    nullable = [c.name for c in table.columns if c.nullable]
    targets = ", ".join(f"@{c}" if c in nullable else f"`{c}`" for c in table.column_names)
    sets = ", ".join(f"`{c}` = NULLIF(@{c}, '')" for c in nullable)
    with tempfile.TemporaryDirectory(prefix="finance_recon_seed_") as tmp:
        path = os.path.join(tmp, "chunk.csv")
        for chunk in chunks(data, chunk_rows):
            with open(path, "wb") as fh:
                pacsv.write_csv(chunk, fh, pacsv.WriteOptions(include_header=False))
            try:
                cur.execute(
                    f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table.table}` CHARACTER SET utf8mb4 "
                    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n' "
                    f"({targets if nullable else cols})" + (f" SET {sets}" if sets else ""),
                    [path],
                )
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] in (1148, 3948, 4166):  # local infile disabled
                    _insert_rows(cur, table, chunk)
                else:
                    raise
            if bar:
                bar.update(chunk.num_rows)
    if rebuild_indexes:
        conn.commit()
        cur.execute("SET SESSION unique_checks = 1")
        cur.execute(f"ALTER TABLE `{table.table}` ADD INDEX `{table.table}_updated_at_idx` (`updated_at`)")


def _insert_rows(cur, table: SourceTable, chunk: pa.Table, per_stmt: int = 5_000) -> None:
    cols = ", ".join(table.column_names)
    row_ph = "(" + ", ".join(["%s"] * len(table.column_names)) + ")"
    rows = [tuple(r.values()) for r in chunk.to_pylist()]
    for start in range(0, len(rows), per_stmt):
        part = rows[start : start + per_stmt]
        sql = f"INSERT INTO {table.table} ({cols}) VALUES " + ", ".join([row_ph] * len(part))
        cur.execute(sql, [v for r in part for v in r])
