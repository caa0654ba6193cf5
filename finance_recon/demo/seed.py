"""Load a synthetic shop into the source databases and make it move like live traffic.

`seed_shop` creates the contract tables where absent (contracts §1 types: MySQL DATETIME(6) and
DECIMAL(18,2) with an index on updated_at; PostgreSQL TIMESTAMPTZ and NUMERIC(18,2); DuckDB
TIMESTAMPTZ and DECIMAL(18,2)) and bulk-loads the generator's Arrow tables:

- PostgreSQL: `COPY … FROM STDIN (FORMAT csv)` in chunks;
- MySQL/MariaDB: `LOAD DATA LOCAL INFILE` of CSV chunks (multi-row INSERTs when the server forbids it);
- DuckDB: a straight insert from Arrow.

The DDL, the database creation and the bulk loader of each engine live in its loader module
(`finance_recon.demo.loaders.{mysql,postgres,duckdb}`); the writable connection is the sources' own
(`finance_recon.sources.writable.connect`, which the correctness prober writes through too); this
module chooses and orders.

`mutate` applies live-looking changes: status moves, refunds, chargebacks, late payments, and
commits whose `updated_at` is earlier than rows already extracted (inside the default look-back).
Money goes through as decimal strings, never floats.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa

from finance_recon.contracts import ORDERS, PAYMENTS, SourceTable
from finance_recon.demo.loaders import loader
from finance_recon.sources.urls import SourceUrl
from finance_recon.sources.writable import bind_timestamp, connect

CHUNK_ROWS = 200_000

__all__ = ["MutationSummary", "connect", "load_table", "mutate", "seed_shop"]


# --------------------------------------------------------------------------------------------------
# Connections (DB-API): `connect` (finance_recon.sources.writable) is re-exported here for the tests
# and the benchmarks. Each engine's DDL and bulk loader: `finance_recon.demo.loaders.<dialect>`.


def _param(dialect: str) -> str:
    return "?" if dialect == "duckdb" else "%s"


# --------------------------------------------------------------------------------------------------
# Bulk load


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
    engine = loader(src)
    engine.create_database(src)
    with connect(src, **engine.CONNECT_OPTIONS) as conn:
        cur = conn.cursor()
        for stmt in engine.ddl(table):
            cur.execute(stmt)
        if replace:
            cur.execute(
                f"DELETE FROM {table.table}" if src.dialect == "duckdb" else f"TRUNCATE TABLE {table.table}"
            )
        engine.bulk_load(conn, table, data, bar, rebuild_indexes=replace, chunk_rows=CHUNK_ROWS)
        conn.commit()
    if bar:
        bar.close()
    return data.num_rows


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
                    bind_timestamp(ts, p_src.dialect),
                    bind_timestamp(ts, p_src.dialect),
                )
            )

        def set_status(order_id, status, ts) -> None:
            ocur.execute(
                f"UPDATE orders SET status = {op}, updated_at = {op} WHERE order_id = {op}",
                [status, bind_timestamp(ts, o_src.dialect), order_id],
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
                [bind_timestamp(ts, p_src.dialect), payment_id],
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
