"""Quarantine on the Trino path, as on the embedded one: a batch that fails its contract check is
never landed in Iceberg and never moves the watermark; the last good report stays; `finance-recon
accept` lets the failing row through, on the record, and the next run lands it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from finance_recon.cli import main as cli_main
from finance_recon.cli.pipeline import RunRequestOptions, execute
from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import seed_shop
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.settings import load_settings
from tests.services import TRINO_PORT, require_server, trino_connect, trino_query

pytestmark = [pytest.mark.mysql, pytest.mark.postgres, pytest.mark.trino, pytest.mark.slow]

ANCHOR = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def deployment(tmp_path, monkeypatch, trino_schema):
    require_server("MariaDB", "127.0.0.1", 3306)
    require_server("PostgreSQL", "127.0.0.1", 5432)
    import pymysql

    db = f"fr_q_{uuid.uuid4().hex[:8]}"
    mysql = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with mysql.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
    pg_url = f"postgresql://postgres@127.0.0.1:5432/{db}"
    home = tmp_path / "home"
    for name, value in {
        "FINANCE_RECON_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "FINANCE_RECON_ORDERS_URL": f"mysql+pymysql://root@127.0.0.1:3306/{db}",
        "FINANCE_RECON_PAYMENTS_URL": pg_url,
        "FINANCE_RECON_WAREHOUSE_TARGET": "trino",
        "FINANCE_RECON_TRINO_PORT": str(TRINO_PORT),
        "FINANCE_RECON_TRINO_SCHEMA": trino_schema,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FINANCE_RECON_REPORTS_URI", raising=False)
    settings = load_settings()
    seed_shop(generate_shop(150, seed=3, anchor=ANCHOR), settings.orders_url, pg_url)
    try:
        yield settings, pg_url
    finally:
        with mysql.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db}")
        mysql.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


def add_payment(pg_url: str, payment_id: str, amount: str, at: datetime, currency: str) -> None:
    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO payments VALUES (%s, NULL, 'stripe', 'charge', 'succeeded', %s, %s, %s, %s)",
            (payment_id, currency, amount, at, at),
        )
    conn.close()


def facts(settings, payment_id: str) -> tuple[int, datetime | None, int]:
    """(versions of payment_id landed, the payments watermark, pending payments batches), from Trino."""
    landing = f"iceberg.{settings.trino_schema}_landing"
    conn = trino_connect()
    try:
        landed = trino_query(
            conn, f"SELECT count(*) FROM {landing}.payments WHERE payment_id = '{payment_id}'"
        )
        mark = trino_query(
            conn, f"SELECT max(max_updated_at) FROM {landing}._watermarks WHERE source_table = 'payments'"
        )
        pending = trino_query(
            conn, f"SELECT count(*) FROM {landing}._pending_batches WHERE source_table = 'payments'"
        )
    finally:
        conn.close()
    return landed[0][0], mark[0][0], pending[0][0]


def test_a_failing_row_is_quarantined_on_trino_until_accepted(deployment, capsys):
    settings, pg_url = deployment
    first = execute(RunRequestOptions(as_of=format_ts(ANCHOR), full_refresh=True), settings)
    assert first.success, first.cause
    _, mark_after_first, _ = facts(settings, "pay_lower")

    # The contract wants ISO 4217 upper case; the provider sent lower case (dbt can reconcile it).
    add_payment(pg_url, "pay_lower", "3.00", ANCHOR + timedelta(minutes=1), currency="usd")
    blocked = execute(RunRequestOptions(as_of=format_ts(ANCHOR + timedelta(minutes=5))), settings)
    assert not blocked.success
    assert blocked.failed_checks == ["payments_batch:contract"], blocked
    assert "payments.currency" in blocked.cause and "pay_lower" in blocked.cause, blocked.cause
    landed, mark, pending = facts(settings, "pay_lower")
    assert (landed, mark, pending) == (0, mark_after_first, 1), "a quarantined row reached Iceberg"

    code = cli_main(["accept", "payments", "--key", "pay_lower", "--reason", "fixed upstream", "--by", "ops"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "accepted 1 payments row version" in out.out
    accepted = execute(RunRequestOptions(as_of=format_ts(ANCHOR + timedelta(minutes=6))), settings)
    assert accepted.success, accepted.cause
    landed, mark, pending = facts(settings, "pay_lower")
    assert (landed, pending) == (1, 0) and mark > mark_after_first
    assert accepted.manifest["run_id"] != first.manifest["run_id"]
