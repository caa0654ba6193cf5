"""The servers `make services` starts, used for real: Trino 476 answers, reads both sources, keeps
Iceberg tables through every write the warehouse uses, and comes back after a stop and a start.

Under CI=true a server that is not up fails these tests (tests/services: `missing`).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from finance_recon.trino.catalogs import Server, payments_catalog
from tests.services import (
    free_port,
    require_server,
    require_trino,
    trino_connect,
    trino_query,
)

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"

pytestmark = [pytest.mark.mysql, pytest.mark.postgres, pytest.mark.trino]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def trino():
    require_trino()
    conn = trino_connect()
    yield conn
    conn.close()


@pytest.fixture
def mysql_db():
    require_server("MariaDB", "127.0.0.1", 3306)
    import pymysql

    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    db = unique("fr_smoke")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
    try:
        yield admin, db
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        admin.close()


@pytest.fixture
def pg_db():
    require_server("PostgreSQL", "127.0.0.1", 5432)
    import psycopg2

    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    db = unique("fr_smoke")
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    try:
        yield db
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


def test_trino_476_answers(trino):
    assert trino_query(trino, "SELECT 1") == [[1]]
    assert trino_query(trino, "SELECT node_version, coordinator FROM system.runtime.nodes") == [["476", True]]
    catalogs = {row[0] for row in trino_query(trino, "SHOW CATALOGS")}
    assert {"iceberg", "mariadb", "postgresql"} <= catalogs


def test_source_catalogs_count_exactly_what_the_sources_hold(trino, mysql_db, pg_db):
    admin, mdb = mysql_db
    with admin.cursor() as cur:
        cur.execute(f"CREATE TABLE `{mdb}`.orders (order_id BIGINT PRIMARY KEY, total DECIMAL(18,2))")
        cur.executemany(
            f"INSERT INTO `{mdb}`.orders VALUES (%s, %s)", [(i, Decimal(i) / 100) for i in range(1, 1238)]
        )
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=pg_db)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE payments (payment_id TEXT PRIMARY KEY, amount NUMERIC(18,2))")
        cur.execute("INSERT INTO payments SELECT 'p' || g, g / 100.0 FROM generate_series(1, 571) g")
    conn.close()

    # MariaDB: one catalog for the server, each database a schema.
    assert trino_query(trino, f"SELECT count(*), sum(total) FROM mariadb.{mdb}.orders") == [
        [1237, sum(Decimal(i) / 100 for i in range(1, 1238))]
    ]
    # PostgreSQL: a catalog is bound to one database, so the test's database gets its own, created at
    # run time (catalog.management=dynamic) from the same renderer as the static catalogs.
    name = unique("pay")
    catalog = payments_catalog(Server("127.0.0.1", 5432, "postgres", database=pg_db))
    trino_query(trino, catalog.create_sql(name))
    try:
        assert trino_query(trino, f"SELECT count(*), sum(amount) FROM {name}.public.payments") == [
            [571, sum(Decimal(i) / 100 for i in range(1, 572))]
        ]
    finally:
        trino_query(trino, f"DROP CATALOG {name}")


def test_an_iceberg_table_survives_ctas_insert_merge_delete(trino):
    schema = unique("smoke")
    table = f"iceberg.{schema}.items"
    trino_query(trino, f"CREATE SCHEMA iceberg.{schema}")
    try:
        trino_query(
            trino,
            f"""CREATE TABLE {table} AS
                SELECT * FROM (VALUES
                  (1, DECIMAL '10.00', TIMESTAMP '2026-12-01 10:00:00.123456 UTC'),
                  (2, DECIMAL '20.50', TIMESTAMP '2026-12-01 11:00:00.000001 UTC')
                ) AS t(item_id, amount, seen_at)""",
        )
        trino_query(
            trino, f"INSERT INTO {table} VALUES (3, DECIMAL '0.01', TIMESTAMP '2026-12-02 00:00:00 UTC')"
        )
        merged = trino_query(
            trino,
            f"""MERGE INTO {table} t
                USING (VALUES (2, DECIMAL '21.00'), (4, DECIMAL '4.44')) AS s(item_id, amount)
                ON t.item_id = s.item_id
                WHEN MATCHED THEN UPDATE SET amount = s.amount
                WHEN NOT MATCHED THEN INSERT VALUES (s.item_id, s.amount, TIMESTAMP '2026-12-03 00:00:00 UTC')""",
        )
        assert merged == [[2]]
        assert trino_query(trino, f"DELETE FROM {table} WHERE item_id = 1") == [[1]]
        rows = trino_query(trino, f"SELECT item_id, amount, seen_at FROM {table} ORDER BY item_id")
        assert [(r[0], r[1]) for r in rows] == [
            (2, Decimal("21.00")),
            (3, Decimal("0.01")),
            (4, Decimal("4.44")),
        ]
        assert rows[0][2] == datetime(2026, 12, 1, 11, 0, 0, 1, tzinfo=UTC)  # microseconds, UTC kept
        snapshots = trino_query(trino, f'SELECT count(*) FROM iceberg.{schema}."items$snapshots"')
        assert snapshots[0][0] >= 4  # one Iceberg snapshot per write
    finally:
        trino_query(trino, f"DROP TABLE IF EXISTS {table}")
        trino_query(trino, f"DROP SCHEMA IF EXISTS iceberg.{schema}")


def test_trino_comes_back_after_a_stop_and_a_start(tmp_path):
    """A second Trino of its own (own port, folder and JDBC catalog database), so the shared server the
    other tests use keeps running: start, write an Iceberg table, stop, start, read it back."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    port = free_port()
    catalog_db = unique("fr_smoke_catalog")
    env = os.environ | {
        "FINANCE_RECON_SERVICES_DIR": str(tmp_path / "services"),
        "FINANCE_RECON_TRINO_PORT": str(port),
        "FINANCE_RECON_TRINO_HEAP_GB": "1",
        "FINANCE_RECON_ICEBERG_CATALOG_URL": f"postgresql://postgres@127.0.0.1:5432/{catalog_db}",
    }

    def services(verb: str) -> str:
        done = subprocess.run(
            ["bash", str(SERVICES), verb, "trino"], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        assert "started on 127.0.0.1:" in services("start")
        conn = trino_connect(port=port)
        trino_query(conn, "CREATE SCHEMA iceberg.kept")
        trino_query(conn, "CREATE TABLE iceberg.kept.t AS SELECT DECIMAL '1.23' AS amount")
        assert "already answers" in services("start")  # idempotent: left alone
        assert "stopped" in services("stop")
        assert "started on" in services("start")
        assert trino_query(trino_connect(port=port), "SELECT amount FROM iceberg.kept.t") == [
            [Decimal("1.23")]
        ]
    finally:
        subprocess.run(["bash", str(SERVICES), "stop", "trino"], env=env, capture_output=True, timeout=120)
        import psycopg2

        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{catalog_db}" WITH (FORCE)')
        admin.close()
