"""Talking to Trino: one connection per step, statements as SQL text, failures as one line.

Failure taxonomy on this engine (issue 24): Trino down or restarting is the only retryable case
(`TrinoUnavailableError`, whose message names the URL); a missing catalog or schema, a query Trino
rejects, or a catalog whose metastore database is unreachable fail at once (`TrinoQueryError`,
naming the step and what Trino said).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from finance_recon.sources.errors import SourceError, SourceUnavailableError, one_line


class TrinoUnavailableError(SourceUnavailableError):
    """Trino does not answer (down, restarting, still starting): worth retrying with backoff."""


class TrinoQueryError(SourceError):
    """Trino answered and refused the statement: retrying cannot help."""


# What Trino says while it cannot run queries yet, though it answers HTTP.
_STARTING = ("SERVER_STARTING_UP", "No nodes available", "NO_NODES_AVAILABLE")


@dataclass(frozen=True)
class TrinoServer:
    host: str
    port: int
    user: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class TrinoSession:
    """A DB-API connection to Trino with the platform's error handling; `step` names what runs."""

    def __init__(self, server: TrinoServer, step: str):
        import trino

        self.server = server
        self.step = step
        self._conn = trino.dbapi.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            http_scheme="http",
            # A statement is one unit of work on Iceberg (each commits on its own): autocommit.
            isolation_level=trino.transaction.IsolationLevel.AUTOCOMMIT,
            request_timeout=120,
        )

    def close(self) -> None:
        self._conn.close()

    def execute(self, sql: str) -> list[tuple]:
        """Run one statement and return its rows (DDL and DML return their counts)."""
        return self.query(sql)[1]

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        """Run one statement: its column names and rows."""
        import requests
        from trino.exceptions import TrinoConnectionError, TrinoExternalError
        from trino.exceptions import TrinoQueryError as DriverQueryError

        cursor = self._conn.cursor()
        try:
            cursor.execute(sql)
            rows = [tuple(row) for row in cursor.fetchall()]
            return [d[0] for d in cursor.description or []], rows
        except (requests.exceptions.ConnectionError, TrinoConnectionError) as exc:
            cause = "connection refused" if "Connection refused" in str(exc) else one_line(exc, 160)
            raise TrinoUnavailableError(
                f"Trino at {self.server.url} does not answer ({self.step}): {cause}"
            ) from None
        except (DriverQueryError, TrinoExternalError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            name = getattr(exc, "error_name", "") or ""
            if any(marker in f"{name} {message}" for marker in _STARTING):
                raise TrinoUnavailableError(
                    f"Trino at {self.server.url} is starting, not answering queries yet ({self.step})"
                ) from None
            raise TrinoQueryError(f"Trino refused {self.step}: {name}: {one_line(message)}") from None
        finally:
            cursor.close()

    def scalar(self, sql: str) -> Any:
        rows = self.execute(sql)
        return rows[0][0] if rows else None

    def fetch_arrow(self, sql: str, schema) -> Any:
        """The rows of `sql` as a pyarrow Table of `schema` (column order as in the SELECT)."""
        import pyarrow as pa

        rows = self.execute(sql)
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
        return pa.table(
            [pa.array(list(col), type=field.type) for col, field in zip(columns, schema, strict=True)],
            schema=schema,
        )


@contextmanager
def session(server: TrinoServer, step: str) -> Iterator[TrinoSession]:
    try:
        conn = TrinoSession(server, step)
    except ImportError as exc:
        raise TrinoQueryError("the Trino target needs the `trino` client: pip install -e '.[trino]'") from exc
    try:
        yield conn
    finally:
        conn.close()


def literal(value: Any) -> str:
    """A Trino SQL literal of a Python value (exact decimals, UTC timestamps with microseconds)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"BIGINT '{value}'"
    if isinstance(value, Decimal):
        return f"DECIMAL '{value}'"
    if isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"TIMESTAMP '{text} UTC'"
    return "'" + str(value).replace("'", "''") + "'"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(*parts: str) -> str:
    return ".".join(quoted(p) for p in parts)


def values_row(values: Sequence[Any]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")"
