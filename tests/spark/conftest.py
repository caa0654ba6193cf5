"""Fixtures for the Spark path: ONE local Spark session for the whole test session, throw-away
databases on the real MariaDB/PostgreSQL servers, and small readable datasets.

A missing prerequisite (Java, the Debian JDBC jars, a server) skips locally and FAILS under
`CI=true`: CI must never go green by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from finance_recon.contracts import ORDERS, PAYMENTS

MYSQL_HOST, MYSQL_PORT = os.environ.get("FINANCE_RECON_TEST_MYSQL_HOST", "127.0.0.1"), 3306
PG_HOST, PG_PORT = os.environ.get("FINANCE_RECON_TEST_PG_HOST", "127.0.0.1"), 5432
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: a missing prerequisite fails the test)")
    pytest.skip(what)


def require_server(name: str, host: str, port: int, timeout: float = 5.0) -> None:
    """Readiness wait: poll the port until it accepts connections or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                missing(f"{name} is not reachable on {host}:{port}")
            time.sleep(0.2)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------------------ spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory) -> Iterator:
    """The one SparkSession of the test run (local[2], ~10 s to start on an idle 2-core machine)."""
    from finance_recon.spark.config import load_spark_settings, missing_jars

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing("Java is not installed (Spark needs a JRE 17)")
    settings = load_spark_settings()
    jars = missing_jars(settings.jdbc_jars)
    if jars:
        missing(f"JDBC jars missing: {jars} (apt-get install libpostgresql-jdbc-java libmariadb-java)")
    from finance_recon.spark.session import get_session

    root = tmp_path_factory.mktemp("spark")
    session = get_session(
        settings,
        extra={
            "spark.master": "local[2]",
            "spark.driver.memory": "2g",
            "spark.sql.warehouse.dir": str(root / "spark-warehouse"),
            "spark.sql.shuffle.partitions": "2",
        },
    )
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path):
    from finance_recon.spark.lake import Lake

    return Lake(tmp_path / "lake")


# ---------------------------------------------------------------------------------------- servers


@pytest.fixture
def mysql_url() -> Iterator[str]:
    require_server("MariaDB/MySQL", MYSQL_HOST, MYSQL_PORT)
    import pymysql

    db = unique("fr_spark")
    admin = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
    try:
        yield f"mysql+pymysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{db}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        admin.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    require_server("PostgreSQL", PG_HOST, PG_PORT)
    import psycopg2

    db = unique("fr_spark")
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{db}"
    finally:
        # Bounded: DROP DATABASE waits for every backend to absorb a barrier, and one stuck backend
        # of another client would hang the teardown forever; a leftover fr_spark_* database is harmless.
        with admin.cursor() as cur:
            cur.execute("SET statement_timeout = '30s'")
            with contextlib.suppress(psycopg2.Error):
                cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


# ------------------------------------------------------------------------------------------- data


def orders_table(rows: list[tuple]) -> pa.Table:
    """rows: (order_id, status, total_amount: str, updated_at: datetime[, created_at])."""
    return pa.table(
        {
            "order_id": [r[0] for r in rows],
            "customer_id": [1000 + r[0] for r in rows],
            "status": [r[1] for r in rows],
            "currency": ["USD"] * len(rows),
            "total_amount": [Decimal(r[2]) for r in rows],
            "created_at": [r[4] if len(r) > 4 else T0 - timedelta(hours=1) for r in rows],
            "updated_at": [r[3] for r in rows],
        },
        schema=ORDERS.arrow_schema,
    )


def payments_table(rows: list[tuple]) -> pa.Table:
    """rows: (payment_id, order_id|None, kind, status, amount: str, updated_at: datetime)."""
    return pa.table(
        {
            "payment_id": [r[0] for r in rows],
            "order_id": [r[1] for r in rows],
            "provider": ["stripe"] * len(rows),
            "kind": [r[2] for r in rows],
            "status": [r[3] for r in rows],
            "currency": ["USD"] * len(rows),
            "amount": [Decimal(r[4]) for r in rows],
            "created_at": [T0 - timedelta(hours=1)] * len(rows),
            "updated_at": [r[5] for r in rows],
        },
        schema=PAYMENTS.arrow_schema,
    )


def lake_rows(lake, table, order_by: str) -> list[tuple]:
    """The landed rows as DuckDB reads them through the views the warehouse uses."""
    import duckdb

    from finance_recon.spark.lake import duckdb_view_sql

    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    for stmt in duckdb_view_sql(lake, table):
        conn.execute(stmt)
    return conn.execute(f"SELECT * FROM landing.{table.asset_name} ORDER BY {order_by}").fetchall()


def spark_tmp(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "spark: runs on the shared local Spark session (Java + Debian JDBC jars)"
    )
