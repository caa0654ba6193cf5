"""Fixtures for the source tests: small readable datasets and throw-away databases on the real servers.

Every server-backed fixture creates a uniquely named database (and, where asked, a user) and drops
exactly that afterwards. A server that is not reachable skips the test locally and FAILS it under
`CI=true` (CI must never go green by skipping).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.warehouse import WarehouseResource
from tests.services import require_server  # noqa: F401 (shared helpers)

MYSQL_HOST, MYSQL_PORT = os.environ.get("FINANCE_RECON_TEST_MYSQL_HOST", "127.0.0.1"), 3306
PG_HOST, PG_PORT = os.environ.get("FINANCE_RECON_TEST_PG_HOST", "127.0.0.1"), 5432

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ----------------------------------------------------------------------------------------- data


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


# ------------------------------------------------------------------------------------- warehouse


@pytest.fixture
def warehouse(tmp_path) -> WarehouseResource:
    return WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))


# --------------------------------------------------------------------------------------- servers


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'source.duckdb'}"


@pytest.fixture
def mysql_admin() -> Iterator:
    require_server("MariaDB/MySQL", MYSQL_HOST, MYSQL_PORT)
    import pymysql

    conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def mysql_url(mysql_admin) -> Iterator[str]:
    db = unique("fr_test")
    with mysql_admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
    try:
        yield f"mysql+pymysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{db}"
    finally:
        with mysql_admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")


@pytest.fixture
def mysql_user(mysql_admin, mysql_url) -> Iterator[tuple[str, str]]:
    """A MariaDB user with a password, allowed on the test database: (user, password)."""
    user, password = unique("fr_user"), "pw-" + uuid.uuid4().hex
    db = mysql_url.rsplit("/", 1)[1]
    with mysql_admin.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL ON `{db}`.* TO '{user}'@'%'")
    try:
        yield user, password
    finally:
        with mysql_admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")


@pytest.fixture
def pg_admin() -> Iterator:
    require_server("PostgreSQL", PG_HOST, PG_PORT)
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres")
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def pg_url(pg_admin) -> Iterator[str]:
    db = unique("fr_test")
    with pg_admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{db}"
    finally:
        with pg_admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture
def pg_role(pg_admin, pg_url) -> Iterator[tuple[str, str]]:
    """A PostgreSQL role with a password (scram-sha-256), owner of the test database."""
    role, password = unique("fr_role"), "pw-" + uuid.uuid4().hex
    db = pg_url.rsplit("/", 1)[1]
    with pg_admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", [password])
        cur.execute(f'ALTER DATABASE "{db}" OWNER TO {role}')  # PG 15: the owner may create in public
    try:
        yield role, password
    finally:
        with pg_admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            cur.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture(params=["duckdb", "mysql", "postgresql"])
def source_url(request) -> str:
    """The same behaviour tested on every engine a contract table can live in."""
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else request.param}_url")
