"""PostgreSQL: the contract DDL (TIMESTAMPTZ, NUMERIC(18,2)) and `COPY … FROM STDIN` bulk load."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv

from finance_recon.contracts import PAYMENTS, SourceTable
from finance_recon.sources.urls import SourceUrl

from . import chunks

CONNECT_OPTIONS: dict = {}

_TYPES = {
    "payment_id": "VARCHAR(64) NOT NULL",
    "order_id": "BIGINT NOT NULL",
    "customer_id": "BIGINT NOT NULL",
    "provider": "VARCHAR(32) NOT NULL",
    "kind": "VARCHAR(16) NOT NULL",
    "status": "VARCHAR(16) NOT NULL",
    "currency": "CHAR(3) NOT NULL",
    "amount": "NUMERIC(18,2) NOT NULL",
    "total_amount": "NUMERIC(18,2) NOT NULL",
    "created_at": "TIMESTAMPTZ NOT NULL",
    "updated_at": "TIMESTAMPTZ NOT NULL",
}
_TYPES_PAYMENTS = dict(_TYPES, order_id="BIGINT NULL")


def create_database(source: SourceUrl) -> None:
    """The URL's database, where absent (through the `postgres` maintenance database)."""
    import psycopg2

    u = source.url
    if not u.database:
        return
    admin = psycopg2.connect(
        dbname="postgres",
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
    )
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [u.database])
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        admin.close()


def ddl(table: SourceTable) -> list[str]:
    """The contract table (TIMESTAMPTZ, NUMERIC(18,2)) in `public` with an index on updated_at."""
    t = table.table
    types = _TYPES_PAYMENTS if table is PAYMENTS else _TYPES
    cols = ", ".join(f"{c} {types[c]}" for c in table.column_names)
    return [
        f"CREATE TABLE IF NOT EXISTS public.{t} ({cols}, PRIMARY KEY ({table.primary_key}))",
        f"CREATE INDEX IF NOT EXISTS {t}_updated_at_idx ON public.{t} (updated_at)",
    ]


def bulk_load(
    conn, table: SourceTable, data: pa.Table, bar, *, rebuild_indexes: bool, chunk_rows: int
) -> None:
    """COPY FROM STDIN in chunks. On a replace the indexes are dropped first and built once at the end
    (a sorted build is several times faster than maintaining a B-tree row by row); FREEZE is allowed
    because the table was truncated in this same transaction."""
    cur = conn.cursor()
    t, cols = table.table, ", ".join(table.column_names)
    if rebuild_indexes:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cur.execute(f"ALTER TABLE public.{t} DROP CONSTRAINT IF EXISTS {t}_pkey")
        cur.execute(f"DROP INDEX IF EXISTS public.{t}_updated_at_idx")
    freeze = ", FREEZE" if rebuild_indexes else ""
    for chunk in chunks(data, chunk_rows):
        buf = io.BytesIO()
        pacsv.write_csv(chunk, buf, pacsv.WriteOptions(include_header=False))
        buf.seek(0)
        cur.copy_expert(f"COPY public.{t} ({cols}) FROM STDIN WITH (FORMAT csv{freeze})", buf)
        if bar:
            bar.update(chunk.num_rows)
    if rebuild_indexes:
        cur.execute(f"ALTER TABLE public.{t} ADD CONSTRAINT {t}_pkey PRIMARY KEY ({table.primary_key})")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {t}_updated_at_idx ON public.{t} (updated_at)")
        cur.execute(f"ANALYZE public.{t}")
