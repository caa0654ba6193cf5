"""Quarantine on the real servers: rows that fail their contract check are never landed, never move the
watermark, and block every later run until the source is fixed or an operator accepts them (issue 14).

Orders in a real MariaDB, payments in a real PostgreSQL, the whole job run in-process as the CLI runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from finance_recon.cli import main as cli_main
from finance_recon.cli.pipeline import RunRequestOptions, execute
from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import seed_shop
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.settings import load_settings

ANCHOR = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def deployment(tmp_path, monkeypatch, mysql_url, pg_url):
    home = tmp_path / "home"
    for name in ("FINANCE_RECON_REPORTS_URI", "FINANCE_RECON_LANDING_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINANCE_RECON_HOME", str(home))
    monkeypatch.setenv("FINANCE_RECON_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("FINANCE_RECON_ORDERS_URL", mysql_url)
    monkeypatch.setenv("FINANCE_RECON_PAYMENTS_URL", pg_url)
    settings = load_settings()
    seed_shop(generate_shop(150, seed=3, anchor=ANCHOR), mysql_url, pg_url)
    return settings


def add_payment(pg_url: str, payment_id: str, amount: str, at: datetime, *, currency: str = "USD") -> None:
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO payments VALUES (%s, NULL, 'stripe', 'charge', 'succeeded', %s, %s, %s, %s) "
            "ON CONFLICT (payment_id) DO UPDATE SET amount = EXCLUDED.amount, updated_at = EXCLUDED.updated_at",
            (payment_id, currency, amount, at, at),
        )
    conn.close()


def warehouse_facts(settings, payment_id: str) -> tuple[int, datetime | None, int]:
    """(versions of payment_id in landing.payments, the payments watermark, pending payments batches)."""
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        landed = conn.execute(
            "SELECT count(*) FROM landing.payments WHERE payment_id = ?", [payment_id]
        ).fetchone()
        mark = conn.execute(
            "SELECT max(max_updated_at) FROM landing._watermarks WHERE source_table = 'payments'"
        ).fetchone()
        pending = conn.execute(
            "SELECT count(*) FROM landing._pending_batches WHERE source_table = 'payments'"
        ).fetchone()
    return landed[0], mark[0], pending[0]


def run(settings, as_of: datetime):
    return execute(RunRequestOptions(as_of=format_ts(as_of)), settings)


def test_a_failing_row_stays_quarantined_until_fixed_or_accepted(deployment, pg_url, capsys):
    settings = deployment
    first = run(settings, ANCHOR)
    assert first.success, first.cause
    _, mark_after_first, _ = warehouse_facts(settings, "pay_zero")
    published = first.manifest["run_id"]

    # A zero-amount charge breaks the payments contract (amount > 0).
    add_payment(pg_url, "pay_zero", "0.00", ANCHOR + timedelta(minutes=1))
    for attempt in range(2):  # the second run re-reads the same row and is blocked again
        blocked = run(settings, ANCHOR + timedelta(minutes=5 + attempt))
        assert not blocked.success
        assert blocked.failed_checks == ["payments_batch:contract"], blocked
        assert "payments.amount" in blocked.cause and "quarantined" in blocked.cause, blocked.cause
        landed, mark, pending = warehouse_facts(settings, "pay_zero")
        assert landed == 0, "a row that failed its contract check reached landing"
        assert mark == mark_after_first, "the watermark moved past a quarantined row"
        assert pending == 1
    # The last good report is still the one published.
    assert load_latest_run_id(settings) == published
    # Nothing promotes a quarantined batch: not even the reconciliation step run on its own (a UI
    # materialization of the dbt models without the sources).
    import duckdb

    from finance_recon.contracts import SOURCE_TABLES
    from finance_recon.sources.landing import promote

    with duckdb.connect(str(settings.warehouse_path)) as conn:
        assert "payments" not in promote(conn, SOURCE_TABLES)
    assert warehouse_facts(settings, "pay_zero")[0] == 0

    # The source fixes that row, but another bad one arrives in the same batch: the batch, the fixed
    # row with it, stays out until the operator accepts the bad version, on the record.
    add_payment(pg_url, "pay_zero", "4.20", ANCHOR + timedelta(minutes=8))
    add_payment(pg_url, "pay_odd_currency", "3.00", ANCHOR + timedelta(minutes=8), currency="usd")
    blocked = run(settings, ANCHOR + timedelta(minutes=10))
    assert not blocked.success and blocked.failed_checks == ["payments_batch:contract"]
    assert "payments.currency" in blocked.cause, blocked.cause
    assert warehouse_facts(settings, "pay_zero")[0] == 0
    assert (
        cli_main(
            ["accept", "payments", "--reason", "provider sends lower case; fixed upstream", "--by", "ops"]
        )
        == 0
    )
    assert "accepted" in capsys.readouterr().out
    accepted = run(settings, ANCHOR + timedelta(minutes=12))
    assert accepted.success, accepted.cause
    landed, mark, pending = warehouse_facts(settings, "pay_zero")
    assert (landed, pending) == (1, 0) and mark > mark_after_first
    assert warehouse_facts(settings, "pay_odd_currency")[0] == 1
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT row_key, accepted_by, reason FROM landing._accepted_rows WHERE source_table = 'payments'"
        ).fetchall()
    assert ("pay_odd_currency", "ops", "provider sends lower case; fixed upstream") in rows
    assert accepted.manifest["run_id"] != published


def test_accept_without_a_quarantined_batch_is_refused(deployment, capsys):
    assert cli_main(["accept", "orders", "--reason", "x"]) == 1
    assert "no quarantined batch" in capsys.readouterr().err


def load_latest_run_id(settings) -> str:
    from finance_recon.report.history import latest_run
    from finance_recon.report.store import LocalReportStore

    return latest_run(LocalReportStore(settings.reports_uri)).run_id


# Issue 25 item 2: quarantine is a path that ends in a published report.


def test_a_null_amount_is_a_contract_failure_naming_the_payment_not_an_aborted_transaction(
    deployment, pg_url, capsys
):
    settings = deployment
    assert run(settings, ANCHOR).success
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:  # the source lets a NULL through
        cur.execute("ALTER TABLE payments ALTER COLUMN amount DROP NOT NULL")
    conn.close()
    add_payment(pg_url, "pay_null", None, ANCHOR + timedelta(minutes=1))
    blocked = run(settings, ANCHOR + timedelta(minutes=5))
    assert not blocked.success
    assert "aborted" not in blocked.cause.lower(), blocked.cause
    assert blocked.failed_checks == ["payments_batch:contract"], blocked.cause
    assert "payments.amount violates 'not null'" in blocked.cause, blocked.cause
    assert "payment_id 'pay_null'" in blocked.cause, blocked.cause
    # dbt cannot reconcile a payment without an amount: accepting it is refused up front, with why.
    assert cli_main(["accept", "payments", "--key", "pay_null", "--reason", "r"]) == 1
    err = capsys.readouterr().err
    assert "pay_null" in err and "amount is NULL" in err and "fix the source" in err, err
    assert warehouse_facts(settings, "pay_null")[0] == 0
    add_payment(pg_url, "pay_null", "1.00", ANCHOR + timedelta(minutes=6))
    fixed = run(settings, ANCHOR + timedelta(minutes=8))
    assert fixed.success, fixed.cause


def test_accept_takes_the_failing_rows_by_key_not_the_whole_batch(deployment, pg_url, capsys):
    settings = deployment
    assert run(settings, ANCHOR).success
    add_payment(pg_url, "pay_fine", "2.00", ANCHOR + timedelta(minutes=1))
    add_payment(pg_url, "pay_lower_a", "3.00", ANCHOR + timedelta(minutes=1), currency="usd")
    add_payment(pg_url, "pay_lower_b", "4.00", ANCHOR + timedelta(minutes=1), currency="usd")
    blocked = run(settings, ANCHOR + timedelta(minutes=5))
    assert not blocked.success
    assert "pay_lower_a" in blocked.cause and "pay_lower_b" in blocked.cause, blocked.cause
    # A key that is not in the quarantined batch is refused, naming it.
    assert cli_main(["accept", "payments", "--key", "pay_nowhere", "--reason", "r"]) == 1
    assert "pay_nowhere" in capsys.readouterr().err
    assert cli_main(["accept", "payments", "--key", "pay_lower_a", "--reason", "known", "--by", "ops"]) == 0
    assert "accepted 1 payments row version" in capsys.readouterr().out
    still = run(settings, ANCHOR + timedelta(minutes=6))
    assert not still.success and "pay_lower_b" in still.cause and "pay_lower_a" not in still.cause, (
        still.cause
    )
    # Without --key: exactly the rows that failed the check, not the whole batch.
    assert cli_main(["accept", "payments", "--reason", "known", "--by", "ops"]) == 0
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        keys = {r[0] for r in conn.execute("SELECT row_key FROM landing._accepted_rows").fetchall()}
    assert keys == {"pay_lower_a", "pay_lower_b"}, keys
    published = run(settings, ANCHOR + timedelta(minutes=7))
    assert published.success, published.cause
    assert warehouse_facts(settings, "pay_fine")[0] == 1
