"""Fixtures for the Spark path: ONE local Spark session for the whole test session, throw-away
databases on the real MariaDB/PostgreSQL servers, and small readable datasets.

A missing prerequisite (Java, the Debian JDBC jars, a server) skips locally and FAILS under
`CI=true`: CI must never go green by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.services import missing, require_server  # noqa: F401 (shared helpers)
from tests.sources.conftest import orders_table, payments_table  # noqa: F401 (shared data builders)

MYSQL_HOST, MYSQL_PORT = os.environ.get("FINANCE_RECON_TEST_MYSQL_HOST", "127.0.0.1"), 3306
PG_HOST, PG_PORT = os.environ.get("FINANCE_RECON_TEST_PG_HOST", "127.0.0.1"), 5432
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------------------ spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory) -> Iterator:
    """The one SparkSession of the test run (local[2], ~10 s to start on an idle 2-core machine)."""
    from finance_recon.settings import load_settings
    from finance_recon.spark.config import load_spark_settings, missing_jars

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing("Java is not installed (Spark needs a JRE 17)")
    settings = load_spark_settings(load_settings())
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
