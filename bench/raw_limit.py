"""The raw limit of the end-to-end pipeline on this machine: what the servers and DuckDB can do alone.

    python -m bench.raw_limit --orders-url mysql+pymysql://root@127.0.0.1:3306/db \
        --payments-url postgresql://postgres@127.0.0.1:5432/db --warehouse path/warehouse.duckdb \
        --as-of 2026-11-28T12:10:00Z

Three timed legs, each the floor for one part of `finance-recon run`:

  raw_orders     `mariadb --quick --batch -e "SELECT <contract columns> FROM orders"` > /dev/null
                 (the text protocol's limit: the server sends every row, the client discards it)
  raw_payments   `psql -c "COPY (SELECT <contract columns> FROM payments) TO STDOUT"` > /dev/null
  duckdb_recon   one hand-written DuckDB query (bench/baselines/duckdb_sql.py, contracts §2) over the
                 tables the platform landed (`landing.orders`, `landing.payments`, attached read
                 only), writing the per-item result to a fresh DuckDB file as the platform writes
                 `fct_reconciliation_items`

The raw limit is their sum (the legs run one after the other, as the platform's stages do). No
checks, no report, no incremental state: a floor, not an alternative implementation.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _client(name: str, fallback: str) -> str:
    found = shutil.which(name) or shutil.which(fallback)
    if not found:
        raise RuntimeError(f"neither {name} nor {fallback} is on PATH")
    return found


def raw_orders(orders_url: str) -> dict:
    """MariaDB/MySQL client streaming every order row (`--quick`: no client-side buffering)."""
    from finance_recon.contracts import ORDERS
    from finance_recon.sources.urls import SourceUrl

    u = SourceUrl.parse(orders_url).url
    env = dict(os.environ)
    if u.password:
        env["MYSQL_PWD"] = u.password
    cmd = [
        _client("mariadb", "mysql"),
        "--quick",
        "--batch",
        "--skip-column-names",
        "-h",
        u.host or "127.0.0.1",
        "-P",
        str(u.port or 3306),
        "-u",
        u.username or "root",
        u.database,
        "-e",
        f"SELECT {', '.join(ORDERS.column_names)} FROM {ORDERS.table}",
    ]
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=True)
    return {"leg": "raw_orders", "seconds": round(time.perf_counter() - t, 2)}


def raw_payments(payments_url: str) -> dict:
    """PostgreSQL `COPY … TO STDOUT` of every payment row into /dev/null."""
    from finance_recon.contracts import PAYMENTS
    from finance_recon.sources.urls import SourceUrl

    u = SourceUrl.parse(payments_url).url
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    cmd = [
        _client("psql", "psql"),
        "-X",
        "-q",
        "-h",
        u.host or "127.0.0.1",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
        "-d",
        u.database,
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        f"COPY (SELECT {', '.join(PAYMENTS.column_names)} FROM {PAYMENTS.table}) TO STDOUT",
    ]
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=True)
    return {"leg": "raw_payments", "seconds": round(time.perf_counter() - t, 2)}


def duckdb_reconcile(warehouse: Path, as_of: str, work: Path, grace_minutes: int = 60) -> dict:
    """The single-query reconciliation over the landed tables, written to a fresh DuckDB file."""
    import duckdb

    from bench.baselines.duckdb_sql import items_sql

    work.mkdir(parents=True, exist_ok=True)
    target = work / "raw_limit.duckdb"
    for stale in (target, Path(f"{target}.wal")):
        stale.unlink(missing_ok=True)
    t = time.perf_counter()
    with duckdb.connect(str(target)) as conn:
        conn.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        sql = items_sql(as_of, "0.00", grace_minutes, schema="wh.landing")
        conn.execute(f"CREATE TABLE fct_items AS {sql}")
        seconds = time.perf_counter() - t
        counts = dict(conn.execute("SELECT category, count(*) FROM fct_items GROUP BY 1").fetchall())
    target.unlink(missing_ok=True)
    return {
        "leg": "duckdb_recon",
        "seconds": round(seconds, 2),
        "counts": {str(k): int(v) for k, v in sorted(counts.items())},
    }


def measure(orders_url: str, payments_url: str, warehouse: Path, as_of: str, work: Path) -> dict:
    legs = [raw_orders(orders_url), raw_payments(payments_url), duckdb_reconcile(warehouse, as_of, work)]
    return {
        "legs": {leg["leg"]: leg["seconds"] for leg in legs},
        "total_s": round(sum(leg["seconds"] for leg in legs), 2),
        "counts": legs[2]["counts"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders-url", required=True)
    parser.add_argument("--payments-url", required=True)
    parser.add_argument("--warehouse", required=True, help="a DuckDB file holding landing.orders/payments")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--work", default=str(Path(__file__).resolve().parent.parent / ".finance_recon"))
    args = parser.parse_args(argv)
    print(
        json.dumps(
            measure(args.orders_url, args.payments_url, Path(args.warehouse), args.as_of, Path(args.work)),
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
