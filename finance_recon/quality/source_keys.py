"""Duplicate primary keys in the source, for the keys a run extracted.

Why the batch alone is not enough: extraction is incremental and upserts by primary key. When a
source table lacks its PK constraint and a second row with an existing key is inserted, only the
new row (fresh `updated_at`) is in the batch; the landing upsert then replaces the old version and
the duplicate looks exactly like an update. So the contract check asks the source, for the keys of
the batch only (chunks of `CHUNK_KEYS`, an index lookup when the PK is indexed): does any of them
occur more than once? The cost follows the batch size, not the table size.

Limit: a duplicate is seen by the run that extracts one of its rows; once both rows fall out of the
look-back window, only a full refresh (whose batch holds every row) sees it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from finance_recon.contracts import SourceTable
from finance_recon.sources.readers import open_reader
from finance_recon.sources.urls import SourceUrl

CHUNK_KEYS = 1_000


@dataclass(frozen=True)
class DuplicateKeys:
    keys: list[Any]  # a sample of duplicated keys
    count: int  # how many of the batch's keys are duplicated in the source


def _quote(dialect: str, name: str) -> str:
    return f"`{name}`" if dialect == "mysql" else f'"{name}"'


def duplicated_source_keys(
    source_url: str, table: SourceTable, keys: list[Any], sample: int = 5
) -> DuplicateKeys:
    if not keys:
        return DuplicateKeys([], 0)
    source = SourceUrl.parse(source_url)
    placeholder = "?" if source.dialect == "duckdb" else "%s"
    pk = _quote(source.dialect, table.primary_key)
    found: list[Any] = []
    count = 0
    with open_reader(source) as reader:
        qualified = _quote(source.dialect, table.table)
        if source.dialect != "mysql":
            qualified = f"{_quote(source.dialect, reader.schema_name)}.{qualified}"
        for start in range(0, len(keys), CHUNK_KEYS):
            chunk = keys[start : start + CHUNK_KEYS]
            sql = (
                f"SELECT {pk} FROM {qualified} WHERE {pk} IN ({', '.join([placeholder] * len(chunk))}) "
                f"GROUP BY {pk} HAVING count(*) > 1"
            )
            if source.dialect == "duckdb":
                rows = reader.conn.execute(sql, chunk).fetchall()
            else:
                cur = reader.conn.cursor()
                try:
                    cur.execute(sql, chunk)
                    rows = cur.fetchall()
                finally:
                    cur.close()
            count += len(rows)
            found.extend(r[0] for r in rows[: max(0, sample - len(found))])
    return DuplicateKeys(found, count)
