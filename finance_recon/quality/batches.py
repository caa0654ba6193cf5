"""Reading what a check validates, without holding the warehouse's single writer lock for long.

The batch a run extracted (`landing.<table>__last_batch`) is read in one short connection: into
memory as Arrow when it fits one chunk (`CHUNK_ROWS`; every incremental batch and a first load of up
to two million rows), else written once to local Parquet files partitioned into chunks,
which an in-memory DuckDB reads back one chunk at a time: chunk `i` holds the rows whose
`hash(primary key) % n == i`, so a duplicate key is always inside one chunk. (Before 2026-12-07
every batch went through one Parquet file, scanned whole for each chunk: ~1 s more per 1M rows,
and a 10M-row first load read its 10M rows back ten times.)

The frames stay Arrow underneath (no Python object per value): strings are pandas' pyarrow-backed
`str`, DECIMAL columns `ArrowDtype(decimal128)`, so building a 1M-row frame costs ~0.1 s and ~100 MB
instead of ~1 s and a Decimal object per amount. A contract row is ~100 bytes in Arrow; with GX's
per-rule masks and filtered copies a chunk costs ~250 bytes a row at its peak (measured: +230 MB for a
1M-row orders chunk, +335 MB for 1.11M payments in two chunks), so `CHUNK_ROWS` bounds a check at
about half a gigabyte whatever the batch size, while a 1M-order shop's first load (1M orders, 1.1M
payments) is still one GX validation per table.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from finance_recon.contracts import SourceTable
from finance_recon.sources.landing import (
    batch_table,
    checked_batch_sql,
    latest_read_was_full,
    warehouse_connection,
)

# ~250 bytes a row at GX's peak (below): ~500 MB for a full chunk, checked in one GX validation.
CHUNK_ROWS = 2_000_000
CHUNK_COLUMN = "_finance_recon_chunk"  # the spilled batch's partition column (never a contract column)


class Batch(NamedTuple):
    data: pa.Table | Path  # the batch itself (one chunk's worth or less), or the folder of its chunks
    rows: int
    full_read: (
        bool  # the extraction read the whole source table (no `read_since`), per its pending/batch log entry
    )
    # What the run staged and why `rows` is fewer (None: not counted, as on the Trino warehouse): row
    # versions an operator accepted, and re-read versions identical to the landed (already checked) one.
    staged: int | None = None
    accepted: int = 0
    already_landed: int = 0


def batch_for_check(warehouse, table: SourceTable, *, chunk_rows: int = CHUNK_ROWS):
    """The batch the contract check validates, as the warehouse engine keeps it (`Warehouse`)."""
    return warehouse.batch_for_check(table, chunk_rows=chunk_rows)


@contextmanager
def embedded_batch_for_check(
    warehouse, table: SourceTable, *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[Batch]:
    """On the DuckDB file: the latest extracted batch without the row versions an operator accepted
    (`landing._accepted_rows`) and, when incremental, without versions already landed (checked when
    they were promoted): in memory when it fits one chunk, else spilled (the file is removed afterwards).

    `full_read` comes from the batch's own pending entry (or, once promoted, its batch-log entry), read
    in the same connection; a batch without either (written by hand, as tests do) counts as not a
    full read.
    """
    with tempfile.TemporaryDirectory(prefix=f"finance_recon_check_{table.asset_name}_") as tmp:
        with warehouse_connection(warehouse) as conn:
            full_read = latest_read_was_full(conn, table)
            # An incremental batch is checked on its new versions only (see checked_batch_sql).
            checked = checked_batch_sql(conn, table, skip_landed_versions=not full_read)
            (rows,) = conn.execute(f"SELECT count(*) FROM ({checked})").fetchone()
            (staged,) = conn.execute(f"SELECT count(*) FROM {batch_table(table)}").fetchone()
            accepted = 0
            if staged > rows:  # some rows are not validated: say which and why (`Batch`)
                unaccepted = checked_batch_sql(conn, table)
                accepted = staged - conn.execute(f"SELECT count(*) FROM ({unaccepted})").fetchone()[0]
            if rows <= chunk_rows:
                data: pa.Table | Path = conn.execute(checked).fetch_arrow_table()
            else:
                # One pass writes every chunk, each to its own folder (reading chunk i back is then a
                # read of its files, not a scan of the whole batch filtered by hash, n times over).
                data = Path(tmp) / "batch"
                literal = str(data).replace("'", "''")
                n = _chunks(int(rows), chunk_rows)
                conn.execute(
                    f"COPY (SELECT *, hash({table.primary_key}) % {n} AS {CHUNK_COLUMN} FROM ({checked})) "
                    f"TO '{literal}' (FORMAT parquet, PARTITION_BY ({CHUNK_COLUMN}))"
                )
        yield Batch(data, int(rows), full_read, int(staged), int(accepted), int(staged - rows - accepted))


def _chunks(rows: int, chunk_rows: int) -> int:
    return max(1, math.ceil(rows / chunk_rows))


def _pandas_type(arrow_type):
    """Arrow → pandas for a contract column (None: pandas' default, `str` and datetime64[us, UTC])."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_int64(arrow_type):
        return pd.Int64Dtype()  # nullable; `.type` is numpy.int64, what the type rule names
    if pa.types.is_decimal(arrow_type):
        return pd.ArrowDtype(arrow_type)  # exact; `.type` is decimal.Decimal, without a Decimal per value
    return None


def frames(data: pa.Table | Path, rows: int, primary_key: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[Any]:
    """pandas frames of the batch: integers as nullable Int64, money as Arrow decimals, UTC timestamps.
    Chunk `i` holds the rows whose `hash(primary key) % n == i`; `chunk_rows` must be the one the
    batch was spilled with."""
    import duckdb

    n = _chunks(rows, chunk_rows)
    if n == 1 and isinstance(data, pa.Table):
        yield data.to_pandas(types_mapper=_pandas_type)
        return
    conn = duckdb.connect()
    try:
        conn.execute("SET TimeZone = 'UTC'")
        if isinstance(data, pa.Table):
            conn.register("_finance_recon_batch", data)
            chunk_sql = [
                f"SELECT * FROM _finance_recon_batch WHERE hash({primary_key}) % {n} = {i}" for i in range(n)
            ]
        else:
            every = f"read_parquet({_literal(_parquet_glob(data))}, hive_partitioning = true)"
            # An empty chunk (no key hashed to it) has no folder: the batch's columns, no row.
            chunk_sql = [
                f"SELECT * EXCLUDE ({CHUNK_COLUMN}) FROM {every} "
                + (f"WHERE {CHUNK_COLUMN} = {i}" if (data / f"{CHUNK_COLUMN}={i}").is_dir() else "LIMIT 0")
                for i in range(n)
            ]
        for sql in chunk_sql:
            arrow = conn.execute(sql).fetch_arrow_table()
            frame = arrow.to_pandas(types_mapper=_pandas_type)
            del arrow  # the frame shares the string buffers; the rest is not needed while GX runs
            yield frame
            del frame  # not held while the next chunk is read
    finally:
        conn.close()


def distinct_keys(data: pa.Table | Path, primary_key: str) -> list[Any]:
    """The distinct primary keys of the batch."""
    import duckdb

    conn = duckdb.connect()
    try:
        if isinstance(data, pa.Table):
            conn.register("_finance_recon_batch", data)
            relation = "_finance_recon_batch"
        else:
            relation = f"read_parquet({_literal(_parquet_glob(data))}, hive_partitioning = true)"
        sql = f"SELECT DISTINCT {primary_key} FROM {relation} WHERE {primary_key} IS NOT NULL"
        return [r[0] for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def _parquet_glob(folder: Path) -> str:
    return str(folder / "*" / "*.parquet")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
