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
from .base import SourceColumn, SourceReader, as_utc, conform

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
