"""MySQL / MariaDB: the contract DDL (DATETIME(6) holding naive UTC, DECIMAL(18,2)) and
`LOAD DATA LOCAL INFILE` bulk load (multi-row INSERTs when the server forbids it)."""

from __future__ import annotations

import os
import tempfile

import pyarrow as pa
import pyarrow.csv as pacsv

from finance_recon.contracts import PAYMENTS, SourceTable
from finance_recon.sources.urls import SourceUrl

from . import chunks

CONNECT_OPTIONS: dict = {"local_infile": True}  # LOAD DATA LOCAL INFILE

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


def create_database(source: SourceUrl) -> None:
    """The URL's database, where absent."""
    import pymysql

    u = source.url
    if not u.database:
        return
    admin = pymysql.connect(
        host=u.host or "127.0.0.1", port=u.port or 3306, user=u.username or "root", password=u.password or ""
    )
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{u.database}`")
    finally:
        admin.close()


def ddl(table: SourceTable) -> list[str]:
    """The contract table (DATETIME(6) holding naive UTC, DECIMAL(18,2)) with an index on updated_at."""
    t = table.table
    types = _TYPES_PAYMENTS if table is PAYMENTS else _TYPES
    cols = ", ".join(f"`{c}` {types[c]}" for c in table.column_names)
    return [
        f"CREATE TABLE IF NOT EXISTS `{t}` ({cols}, PRIMARY KEY (`{table.primary_key}`), "
        f"KEY `{t}_updated_at_idx` (`updated_at`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    ]


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
