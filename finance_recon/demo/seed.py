"""Load a synthetic shop into the source databases and make it move like live traffic.

`seed_shop` creates the contract tables where absent (contracts §1 types: MySQL DATETIME(6) and
DECIMAL(18,2) with an index on updated_at; PostgreSQL TIMESTAMPTZ and NUMERIC(18,2); DuckDB
TIMESTAMPTZ and DECIMAL(18,2)) and bulk-loads the generator's Arrow tables:

- PostgreSQL: `COPY … FROM STDIN (FORMAT csv)` in chunks;
- MySQL/MariaDB: `LOAD DATA LOCAL INFILE` of CSV chunks (multi-row INSERTs when the server forbids it);
- DuckDB: a straight insert from Arrow.

`mutate` applies live-looking changes: status moves, refunds, chargebacks, late payments, and
commits whose `updated_at` is earlier than rows already extracted (inside the default look-back).
Money goes through as decimal strings, never floats.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from finance_recon.contracts import ORDERS, PAYMENTS, SourceTable
from finance_recon.sources.urls import SourceUrl

CHUNK_ROWS = 200_000

_MYSQL_TYPES = {
    "order_id": "BIGINT NOT NULL",
    "customer_id": "BIGINT NOT NULL",
    "status": "VARCHAR(16) NOT NULL",
    "currency": "CHAR(3) NOT NULL",
    "total_amount": "DECIMAL(18,2) NOT NULL",
    "created_at": "DATETIME(6) NOT NULL",
    "updated_at": "DATETIME(6) NOT NULL",
}
_PG_TYPES = {
    "payment_id": "VARCHAR(64) NOT NULL",
    "order_id": "BIGINT NULL",
    "provider": "VARCHAR(32) NOT NULL",
    "kind": "VARCHAR(16) NOT NULL",
    "status": "VARCHAR(16) NOT NULL",
    "currency": "CHAR(3) NOT NULL",
    "amount": "NUMERIC(18,2) NOT NULL",
    "created_at": "TIMESTAMPTZ NOT NULL",
    "updated_at": "TIMESTAMPTZ NOT NULL",
}
# The same tables on the other engines (tests and drills put orders in PostgreSQL, payments in MySQL…).
_MYSQL_TYPES.update(
    {
        "payment_id": "VARCHAR(64) NOT NULL",
        "provider": "VARCHAR(32) NOT NULL",
        "kind": "VARCHAR(16) NOT NULL",
        "amount": "DECIMAL(18,2) NOT NULL",
    }
)
_MYSQL_TYPES_PAYMENTS = dict(_MYSQL_TYPES, order_id="BIGINT NULL")
_PG_TYPES_ORDERS = {
    "order_id": "BIGINT NOT NULL",
    "customer_id": "BIGINT NOT NULL",
    "status": "VARCHAR(16) NOT NULL",
    "currency": "CHAR(3) NOT NULL",
    "total_amount": "NUMERIC(18,2) NOT NULL",
    "created_at": "TIMESTAMPTZ NOT NULL",
    "updated_at": "TIMESTAMPTZ NOT NULL",
}


def _ddl(table: SourceTable, dialect: str) -> list[str]:
    t = table.table
    if dialect == "mysql":
        types = _MYSQL_TYPES_PAYMENTS if table is PAYMENTS else _MYSQL_TYPES
        cols = ", ".join(f"`{c}` {types[c]}" for c in table.column_names)
        return [
            f"CREATE TABLE IF NOT EXISTS `{t}` ({cols}, PRIMARY KEY (`{table.primary_key}`), "
            f"KEY `{t}_updated_at_idx` (`updated_at`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        ]
    if dialect == "postgresql":
        types = _PG_TYPES if table is PAYMENTS else _PG_TYPES_ORDERS
        cols = ", ".join(f"{c} {types[c]}" for c in table.column_names)
        return [
            f"CREATE TABLE IF NOT EXISTS public.{t} ({cols}, PRIMARY KEY ({table.primary_key}))",
            f"CREATE INDEX IF NOT EXISTS {t}_updated_at_idx ON public.{t} (updated_at)",
        ]
    cols = ", ".join(f"{c.name} {c.warehouse_type}{'' if c.nullable else ' NOT NULL'}" for c in table.columns)
    return [f"CREATE TABLE IF NOT EXISTS {t} ({cols}, PRIMARY KEY ({table.primary_key}))"]


# --------------------------------------------------------------------------------------------------
# Connections (DB-API, one per dialect) — also used by the tests and the benchmark.


@contextmanager
def connect(url: str | SourceUrl, *, create_database: bool = False) -> Iterator:
    """A DB-API connection to a source URL (autocommit off; commit is the caller's)."""
    src = url if isinstance(url, SourceUrl) else SourceUrl.parse(url)
    u = src.url
    if src.dialect == "duckdb":
        import duckdb

        path = src.database
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        conn = duckdb.connect(path)
        conn.execute("SET TimeZone = 'UTC'")
    elif src.dialect == "postgresql":
        import psycopg2

        kwargs = dict(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username, password=u.password)
        if create_database and u.database:
            admin = psycopg2.connect(dbname="postgres", **kwargs)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [u.database])
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{u.database}"')
            admin.close()
        conn = psycopg2.connect(dbname=u.database or "postgres", **kwargs)
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
    elif src.dialect == "mysql":
        import pymysql

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
        conn = pymysql.connect(database=u.database, **kwargs)
    else:  # pragma: no cover - SourceUrl.parse rejects others
        raise ValueError(src.redacted)
    try:
        yield conn
    finally:
        conn.close()


def _param(dialect: str) -> str:
    return "?" if dialect == "duckdb" else "%s"


# --------------------------------------------------------------------------------------------------
# Bulk load


def _chunks(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)


def _naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps as naive UTC (MySQL DATETIME has no zone; the contract says the values are UTC)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp(field.type.unit)))
    return table


def _progress(total: int, desc: str, enabled: bool, position: int = 0):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{desc:<22}", unit="rows", unit_scale=True, position=position, leave=True)


def load_table(
    table: SourceTable,
    data: pa.Table,
    url: str,
    *,
    replace: bool = True,
    progress: bool = False,
    position: int = 0,
) -> int:
    """Create `table` at `url` if absent and bulk-load `data` (contract schema). Returns rows loaded."""
    src = SourceUrl.parse(url)
    data = data.select(table.column_names).cast(table.arrow_schema)
    bar = _progress(data.num_rows, f"{table.table} → {src.dialect}", progress, position)
    with connect(src, create_database=True) as conn:
        cur = conn.cursor()
        for stmt in _ddl(table, src.dialect):
            cur.execute(stmt)
        if replace:
            cur.execute(
                f"DELETE FROM {table.table}" if src.dialect == "duckdb" else f"TRUNCATE TABLE {table.table}"
            )
        if src.dialect == "duckdb":
            for chunk in _chunks(data, CHUNK_ROWS):
                conn.register("_seed_chunk", chunk)
                conn.execute(f"INSERT INTO {table.table} SELECT * FROM _seed_chunk")
                conn.unregister("_seed_chunk")
                if bar:
                    bar.update(chunk.num_rows)
        elif src.dialect == "postgresql":
            _load_postgres(cur, table, data, bar, rebuild_indexes=replace)
        else:
            _load_mysql(conn, cur, table, _naive_utc(data), bar, rebuild_indexes=replace)
        conn.commit()
    if bar:
        bar.close()
    return data.num_rows


def _load_postgres(cur, table: SourceTable, data: pa.Table, bar, *, rebuild_indexes: bool) -> None:
    """COPY FROM STDIN in chunks. On a replace the indexes are dropped first and built once at the end
    (a sorted build is several times faster than maintaining a B-tree row by row); FREEZE is allowed
    because the table was truncated in this same transaction."""
    t, cols = table.table, ", ".join(table.column_names)
    if rebuild_indexes:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cur.execute(f"ALTER TABLE public.{t} DROP CONSTRAINT IF EXISTS {t}_pkey")
        cur.execute(f"DROP INDEX IF EXISTS public.{t}_updated_at_idx")
    freeze = ", FREEZE" if rebuild_indexes else ""
    for chunk in _chunks(data, CHUNK_ROWS):
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


def _load_mysql(conn, cur, table: SourceTable, data: pa.Table, bar, *, rebuild_indexes: bool) -> None:
    import pymysql

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
        for chunk in _chunks(data, CHUNK_ROWS):
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
                    _insert_rows(cur, table, chunk, "mysql")
                else:
                    raise
            if bar:
                bar.update(chunk.num_rows)
    if rebuild_indexes:
        conn.commit()
        cur.execute("SET SESSION unique_checks = 1")
        cur.execute(f"ALTER TABLE `{table.table}` ADD INDEX `{table.table}_updated_at_idx` (`updated_at`)")


def _insert_rows(cur, table: SourceTable, chunk: pa.Table, dialect: str, per_stmt: int = 5_000) -> None:
    cols = ", ".join(table.column_names)
    row_ph = "(" + ", ".join([_param(dialect)] * len(table.column_names)) + ")"
    rows = [tuple(r.values()) for r in chunk.to_pylist()]
    for start in range(0, len(rows), per_stmt):
        part = rows[start : start + per_stmt]
        sql = f"INSERT INTO {table.table} ({cols}) VALUES " + ", ".join([row_ph] * len(part))
        cur.execute(sql, [v for r in part for v in r])


def seed_shop(
    shop, orders_url: str, payments_url: str, *, replace: bool = True, progress: bool = False
) -> None:
    """Create the contract tables where absent and bulk-load `shop.orders` / `shop.payments`.

    Two different servers load in parallel (each side mostly waits on its server)."""
    if SourceUrl.parse(orders_url).url == SourceUrl.parse(payments_url).url:
        load_table(ORDERS, shop.orders, orders_url, replace=replace, progress=progress)
        load_table(PAYMENTS, shop.payments, payments_url, replace=replace, progress=progress)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="seed") as pool:
        jobs = [
            pool.submit(
                load_table, ORDERS, shop.orders, orders_url, replace=replace, progress=progress, position=0
            ),
            pool.submit(
                load_table,
                PAYMENTS,
                shop.payments,
                payments_url,
                replace=replace,
                progress=progress,
                position=1,
            ),
        ]
        for job in jobs:
            job.result()


# --------------------------------------------------------------------------------------------------
# Live-looking traffic


@dataclass(frozen=True)
class MutationSummary:
    status_moves: int = 0
    refunds: int = 0
    chargebacks: int = 0
    late_payments: int = 0
    late_commits: int = 0  # changes committed with an updated_at in the past (inside the look-back)
    orders_updated: int = 0
    payments_inserted: int = 0
    payments_updated: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_NEXT_STATUS = {"pending": "paid", "paid": "shipped", "shipped": "delivered"}


def _as_dt(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _bind_ts(ts: datetime, dialect: str):
    """MySQL DATETIME takes naive UTC; the others take aware datetimes."""
    return ts.astimezone(UTC).replace(tzinfo=None) if dialect == "mysql" else ts.astimezone(UTC)


def mutate(
    orders_url: str,
    payments_url: str,
    *,
    n: int,
    seed: int,
    now: datetime,
    late_share: float = 0.1,
    late_max_minutes: int = 8,
) -> MutationSummary:
    """Apply about `n` changes as a live shop would, committed with `updated_at` around `now`.

    A `late_share` of them carry an `updated_at` between 1 and `late_max_minutes` minutes before
    `now` (a long transaction committing late); keep that under the extractor's look-back (10 min).
    """
    rng = np.random.default_rng(seed)
    now = now.astimezone(UTC)
    o_src, p_src = SourceUrl.parse(orders_url), SourceUrl.parse(payments_url)
    op, pp = _param(o_src.dialect), _param(p_src.dialect)
    counts = dict.fromkeys(MutationSummary.__dataclass_fields__, 0)

    def stamp() -> datetime:
        if rng.random() < late_share:
            counts["late_commits"] += 1
            late = float(rng.uniform(1, late_max_minutes))  # float ok: minutes of a timestamp offset
            return now - timedelta(minutes=late)
        return now - timedelta(microseconds=int(rng.integers(0, 1_000_000)))

    with connect(o_src) as oconn, connect(p_src) as pconn:
        ocur, pcur = oconn.cursor(), pconn.cursor()
        ocur.execute("SELECT min(order_id), max(order_id) FROM orders")
        lo, hi = ocur.fetchone()
        if lo is None or n <= 0:
            return MutationSummary()
        sample = sorted({int(x) for x in rng.integers(lo, hi + 1, size=max(n * 2, 1))})
        ocur.execute(
            "SELECT order_id, status, currency, total_amount FROM orders WHERE order_id IN ("
            + ", ".join([op] * len(sample))
            + ") ORDER BY order_id",
            sample,
        )
        candidates = list(ocur.fetchall())
        rng.shuffle(candidates)
        new_payments: list[tuple] = []
        pay_seq = 0

        def add_payment(order_id, kind, status, currency, amount, ts) -> None:
            nonlocal pay_seq
            pay_seq += 1
            provider = str(rng.choice(["stripe", "adyen", "paypal"], p=[0.6, 0.3, 0.1]))
            pid = f"mut_{seed}_{int(now.timestamp())}_{pay_seq}"
            new_payments.append(
                (
                    pid,
                    order_id,
                    provider,
                    kind,
                    status,
                    currency,
                    Decimal(str(amount)),
                    _bind_ts(ts, p_src.dialect),
                    _bind_ts(ts, p_src.dialect),
                )
            )

        def set_status(order_id, status, ts) -> None:
            ocur.execute(
                f"UPDATE orders SET status = {op}, updated_at = {op} WHERE order_id = {op}",
                [status, _bind_ts(ts, o_src.dialect), order_id],
            )
            counts["orders_updated"] += 1

        done = 0
        for order_id, status, currency, total in candidates:
            if done >= n:
                break
            ts = stamp()
            roll = rng.random()
            if status == "pending" and roll < 0.8:
                set_status(order_id, "paid", ts)
                add_payment(order_id, "charge", "succeeded", currency, total, ts)
                counts["status_moves"] += 1
            elif status in ("paid", "shipped") and roll < 0.75:
                set_status(order_id, _NEXT_STATUS[status], ts)
                counts["status_moves"] += 1
            elif status in ("paid", "shipped", "delivered") and roll < 0.9:
                set_status(order_id, "refunded", ts)
                add_payment(order_id, "refund", "succeeded", currency, total, ts)
                counts["refunds"] += 1
            elif status in ("paid", "shipped", "delivered"):
                add_payment(order_id, "chargeback", "succeeded", currency, total, ts)
                counts["chargebacks"] += 1
            else:
                continue
            done += 1

        # Late payments: provider callbacks settling payments that were pending.
        pcur.execute(
            "SELECT payment_id FROM payments WHERE status = 'pending' ORDER BY payment_id LIMIT "
            + str(max(1, n // 10))
        )
        for (payment_id,) in pcur.fetchall():
            ts = stamp()
            pcur.execute(
                f"UPDATE payments SET status = 'succeeded', updated_at = {pp} WHERE payment_id = {pp}",
                [_bind_ts(ts, p_src.dialect), payment_id],
            )
            counts["late_payments"] += 1
            counts["payments_updated"] += 1

        if new_payments:
            cols = ", ".join(PAYMENTS.column_names)
            row_ph = "(" + ", ".join([pp] * len(PAYMENTS.column_names)) + ")"
            for start in range(0, len(new_payments), 1000):
                part = new_payments[start : start + 1000]
                pcur.execute(
                    f"INSERT INTO payments ({cols}) VALUES " + ", ".join([row_ph] * len(part)),
                    [v for r in part for v in r],
                )
            counts["payments_inserted"] = len(new_payments)
        oconn.commit()
        pconn.commit()
    return MutationSummary(**counts)
