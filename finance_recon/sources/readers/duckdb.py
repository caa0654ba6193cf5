"""The embedded demo source: a DuckDB file with tables `orders` / `payments`, read-only.

DuckDB hands out Arrow batches natively (`fetch_record_batch`), so this path copies nothing
through Python objects. A file held by a writer (the demo's traffic generator mid-commit) is
"unavailable", i.e. retryable.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from ...contracts import SourceTable
from ..errors import ContractViolationError, SourceUnavailableError, one_line
from .base import SourceColumn, SourceReader, as_utc, conform


def _quote(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


class DuckDBReader(SourceReader):
    def __enter__(self) -> DuckDBReader:
        import duckdb

        path = self.source.database
        if not path or path == ":memory:":
            raise ContractViolationError(f"source {self.source.redacted}: a duckdb source needs a file path")
        if not Path(path).exists():
            raise SourceUnavailableError(
                f"source {self.source.redacted} is unavailable: file {path} does not exist"
            )
        try:
            self.conn = duckdb.connect(path, read_only=True)
            self.conn.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as exc:
            raise SourceUnavailableError(
                f"source {self.source.redacted} is unavailable: {one_line(exc)}"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()

    @property
    def schema_name(self) -> str:
        return self.source.schema or "main"

    def columns(self, table: SourceTable) -> list[SourceColumn]:
        rows = self.conn.execute(
            "SELECT lower(column_name), lower(data_type), numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [self.schema_name, table.table],
        ).fetchall()
        return [SourceColumn(*r) for r in rows]

    def max_updated_at(self, table: SourceTable) -> datetime | None:
        sql = f"SELECT MAX(updated_at) FROM {_quote(self.schema_name)}.{_quote(table.table)}"
        return as_utc(self.conn.execute(sql).fetchone()[0])

    def read(
        self, table: SourceTable, since: datetime | None, batch_rows: int, checked: dict[str, SourceColumn]
    ) -> Iterator[pa.RecordBatch]:
        cols = ", ".join(_quote(c) for c in table.column_names)
        sql = f"SELECT {cols} FROM {_quote(self.schema_name)}.{_quote(table.table)}"
        params: list = []
        if since is not None:
            sql += " WHERE updated_at > ?"
            params.append(since)
        reader = self.conn.execute(sql, params).fetch_record_batch(batch_rows)
        where = self.where(table)
        for batch in reader:
            if batch.num_rows:
                yield conform(batch, table, where)
