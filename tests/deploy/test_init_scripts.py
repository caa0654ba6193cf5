"""The compose databases' init scripts (deploy/postgres/init, deploy/mysql/init) run on the real local servers.

The compose images run them on first start; here they run against PostgreSQL and MariaDB on
127.0.0.1 in throw-away databases, and the tables they create match the source contracts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest

from finance_recon.contracts import ORDERS, PAYMENTS
from tests.deploy.deploy_helpers import DEPLOY, on_ci

PG_HOST = os.environ.get("FINANCE_RECON_TEST_PG_HOST", "127.0.0.1")
MYSQL_HOST = os.environ.get("FINANCE_RECON_TEST_MYSQL_HOST", "127.0.0.1")


def _require(condition: bool, message: str) -> None:
    if condition:
        return
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _pg_query(dbname: str, sql: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, user="postgres", dbname=dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.mark.postgres
def test_postgres_init_creates_dagster_and_iceberg_databases_and_payments():
    _require(_port_open(PG_HOST, 5432), f"PostgreSQL is not reachable on {PG_HOST}:5432")
    _require(shutil.which("psql") is not None, "psql not found (Debian postgresql-client)")
    import psycopg2

    suffix = uuid.uuid4().hex[:8]
    names = {
        "POSTGRES_DB": f"fr_pay_{suffix}",
        "DAGSTER_PG_DB": f"fr_dag_{suffix}",
        "ICEBERG_CATALOG_DB": f"fr_ice_{suffix}",
    }
    admin = psycopg2.connect(host=PG_HOST, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{names["POSTGRES_DB"]}"')  # the image creates POSTGRES_DB itself
    try:
        env = {**os.environ, **names, "POSTGRES_USER": "postgres", "PGHOST": PG_HOST}
        for _ in range(2):  # idempotent: a second run changes nothing and does not fail
            script = subprocess.run(
                ["bash", str(DEPLOY / "postgres/init/10-databases.sh")],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert script.returncode == 0, script.stderr
            sql = (DEPLOY / "postgres/init/20-payments.sql").read_text()
            payments = subprocess.run(
                ["psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", names["POSTGRES_DB"]],
                input=sql, env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert payments.returncode == 0, payments.stderr
        with admin.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", [list(names.values())])
            assert {r[0] for r in cur.fetchall()} == set(names.values())
        tables = _pg_query(
            names["ICEBERG_CATALOG_DB"],
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        )
        assert {r[0] for r in tables} == {"iceberg_tables", "iceberg_namespace_properties"}
        columns = _pg_query(
            names["POSTGRES_DB"],
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'payments' ORDER BY ordinal_position",
        )
        assert [c for c, _ in columns] == PAYMENTS.column_names
        assert {c for c, n in columns if n == "YES"} == {c.name for c in PAYMENTS.columns if c.nullable}
    finally:
        with admin.cursor() as cur:
            for db in names.values():
                cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


@pytest.mark.mysql
def test_mysql_init_creates_the_orders_contract_table():
    _require(_port_open(MYSQL_HOST, 3306), f"MySQL/MariaDB is not reachable on {MYSQL_HOST}:3306")
    import pymysql

    db = f"fr_oltp_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host=MYSQL_HOST, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{db}`")
            cur.execute(f"USE `{db}`")
            for _ in range(2):  # CREATE TABLE IF NOT EXISTS: safe to re-run
                cur.execute((DEPLOY / "mysql/init/10-orders.sql").read_text())
            cur.execute(
                "SELECT column_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'orders' ORDER BY ordinal_position",
                [db],
            )
            columns = cur.fetchall()
            cur.execute("SELECT index_name FROM information_schema.statistics WHERE table_schema = %s", [db])
            indexes = {r[0] for r in cur.fetchall()}
        assert [c for c, _ in columns] == ORDERS.column_names
        assert all(n == "NO" for _, n in columns)
        assert "orders_updated_at" in indexes  # incremental extraction filters on updated_at
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        conn.close()
