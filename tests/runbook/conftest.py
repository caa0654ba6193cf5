"""A small real deployment for the runbook tests, built once per module and copied per test.

`baseline`: a 300-order demo shop seeded into throw-away databases on the real servers — orders in
MariaDB, payments in PostgreSQL, each behind a login with a password (so the tests also prove no
password is ever printed) — and one successful `finance-recon run` into a private
FINANCE_RECON_HOME (Dagster instance, warehouse, local report store). Each test gets its own copy
of that home (`deployment`), so what a test injects never leaks into the next one.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.runbook.helpers import (
    LEAKY_ENV,
    MYSQL_HOST,
    MYSQL_PORT,
    PG_HOST,
    PG_PORT,
    cli,
    copy_home,
    home_env,
    require_server,
    unique,
    wait_until,
)

SHOP_ORDERS = 300


@dataclass
class Baseline:
    home: Path
    env: dict[str, str]
    mysql_db: str
    mysql_user: str
    mysql_password: str
    pg_db: str
    pg_role: str
    pg_password: str
    run_seconds: float
    cleanup: list = field(default_factory=list)

    def orders_url(self, db: str | None = None) -> str:
        return f"mysql+pymysql://{self.mysql_user}:{self.mysql_password}@{MYSQL_HOST}:{MYSQL_PORT}/{db or self.mysql_db}"

    def payments_url(self, db: str | None = None) -> str:
        return f"postgresql://{self.pg_role}:{self.pg_password}@{PG_HOST}:{PG_PORT}/{db or self.pg_db}"


def mysql_admin():
    import pymysql

    return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)


def pg_admin():
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres")
    conn.autocommit = True
    return conn


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Iterator[Baseline]:
    require_server("MariaDB/MySQL", MYSQL_HOST, MYSQL_PORT)
    require_server("PostgreSQL", PG_HOST, PG_PORT)
    from finance_recon.demo.generator import generate_shop
    from finance_recon.demo.seed import seed_shop

    b = Baseline(
        home=tmp_path_factory.mktemp("baseline") / "home",
        env={},
        mysql_db=unique("fr_rb"),
        mysql_user=unique("fr_rb_u"),
        mysql_password="pw-" + uuid.uuid4().hex,
        pg_db=unique("fr_rb"),
        pg_role=unique("fr_rb_r"),
        pg_password="pw-" + uuid.uuid4().hex,
        run_seconds=0.0,
    )
    my, pg = mysql_admin(), pg_admin()
    try:
        with my.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{b.mysql_db}`")
            cur.execute(f"CREATE USER '{b.mysql_user}'@'%' IDENTIFIED BY '{b.mysql_password}'")
            cur.execute(f"GRANT ALL ON `{b.mysql_db}`.* TO '{b.mysql_user}'@'%'")
        with pg.cursor() as cur:
            cur.execute(f"CREATE ROLE {b.pg_role} LOGIN PASSWORD %s", [b.pg_password])
            cur.execute(f'CREATE DATABASE "{b.pg_db}" OWNER {b.pg_role}')
        seed_shop(generate_shop(SHOP_ORDERS, seed=11), b.orders_url(), b.payments_url())
        b.env = home_env(
            b.home,
            FINANCE_RECON_ORDERS_URL=b.orders_url(),
            FINANCE_RECON_PAYMENTS_URL=b.payments_url(),
            # The shop is seeded once per module; keep its natural age out of the lag thresholds.
            FINANCE_RECON_SOURCE_LAG_WARN_MINUTES="60",
            FINANCE_RECON_SOURCE_LAG_FAIL_MINUTES="120",
        )
        started = time.monotonic()
        proc = cli(["run", "--full-refresh"], b.env, log=b.home.parent / "baseline-run.log")
        b.run_seconds = time.monotonic() - started
        assert proc.returncode == 0, f"baseline run failed: {proc.stderr[-3000:]}"
        yield b
    finally:
        with my.cursor() as cur:
            for db in [b.mysql_db, *[d for kind, d in b.cleanup if kind == "mysql"]]:
                cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
            cur.execute(f"DROP USER IF EXISTS '{b.mysql_user}'@'%'")
        # Bounded: DROP … WITH (FORCE) waits for every backend of the server to absorb a signal
        # barrier, and one stuck backend (anyone's) would otherwise hang the teardown for ever.
        import psycopg2

        with pg.cursor() as cur:
            cur.execute("SET statement_timeout = '60s'")
            try:
                for db in [b.pg_db, *[d for kind, d in b.cleanup if kind == "pg"]]:
                    cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                cur.execute(f"DROP ROLE IF EXISTS {b.pg_role}")
            except psycopg2.errors.QueryCanceled as exc:
                warnings.warn(f"could not drop the test databases within 60 s: {exc}", stacklevel=1)
        my.close()
        pg.close()


@pytest.fixture
def deployment(baseline: Baseline, tmp_path: Path, monkeypatch) -> dict[str, str]:
    """This test's deployment: a private copy of the baseline home; the process env points at it
    (for in-process `diagnose`), and the returned env is for CLI subprocesses."""
    home = copy_home(baseline.home, tmp_path / "home")
    env = dict(baseline.env, FINANCE_RECON_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    apply_env(monkeypatch, env)
    return env


def apply_env(monkeypatch, env: dict[str, str]) -> None:
    for name in LEAKY_ENV:
        if name not in env:
            monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)


def clone_mysql_orders(baseline: Baseline) -> str:
    """A new MariaDB database holding a copy of the baseline orders table; returns its name."""
    db = unique("fr_rb_c")
    baseline.cleanup.append(("mysql", db))
    conn = mysql_admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{db}`")
            cur.execute(f"CREATE TABLE `{db}`.orders LIKE `{baseline.mysql_db}`.orders")
            cur.execute(f"INSERT INTO `{db}`.orders SELECT * FROM `{baseline.mysql_db}`.orders")
            cur.execute(f"GRANT ALL ON `{db}`.* TO '{baseline.mysql_user}'@'%'")
    finally:
        conn.close()
    return db


def clone_pg_payments(baseline: Baseline) -> str:
    """A new PostgreSQL database cloned from the baseline one (TEMPLATE); returns its name."""
    import psycopg2

    db = unique("fr_rb_c")
    baseline.cleanup.append(("pg", db))
    conn = pg_admin()

    def attempt() -> bool:
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{db}" TEMPLATE "{baseline.pg_db}" OWNER {baseline.pg_role}')
            return True
        except psycopg2.errors.ObjectInUse:  # a connection to the template is still closing
            return False

    try:
        wait_until(attempt, 20, 0.5, "the baseline database to be free to clone")
    finally:
        conn.close()
    return db
