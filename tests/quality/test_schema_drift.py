"""Schema drift and bad data, for real: orders on MariaDB, payments on PostgreSQL, the whole job.

One deployment per module: a good run publishes a report, then each case breaks the source, runs
the job, and proves (1) the run fails with an error naming table, column and rule, (2) neither the
dbt models nor the report ran, (3) `latest.json` is byte-identical — then repairs the source.

Two ways a case fails, both asserted: extraction refuses a missing/retyped column with a contract
error before landing anything (step `orders`/`payments` fails); bad values and duplicate keys land
in the batch and the blocking GX check (`<table>:contract`) fails.
"""

from __future__ import annotations

import pytest

from tests.quality.helpers import latest_json, require_server, run_pipeline, unique

pytestmark = [pytest.mark.slow, pytest.mark.mysql, pytest.mark.postgres]

DOWNSTREAM_STEPS = {"reconciliation_dbt_models", "finance_reconciliation_report"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    require_server("MariaDB/MySQL", "127.0.0.1", 3306)
    require_server("PostgreSQL", "127.0.0.1", 5432)
    import psycopg2
    import pymysql

    home = tmp_path_factory.mktemp("drift_home")
    db = unique("fr_drift")
    my_admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    pg_admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    pg_admin.autocommit = True
    with my_admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{db}`")
    with pg_admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    orders_url = f"mysql+pymysql://root@127.0.0.1:3306/{db}"
    payments_url = f"postgresql://postgres@127.0.0.1:5432/{db}"
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("FINANCE_RECON_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.setenv("FINANCE_RECON_ORDERS_URL", orders_url)
        mp.setenv("FINANCE_RECON_PAYMENTS_URL", payments_url)
        mp.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        mp.setenv("DBT_VERSION_CHECK", "false")
        from finance_recon.demo.generator import generate_shop
        from finance_recon.demo.seed import seed_shop
        from finance_recon.settings import load_settings

        settings = load_settings()
        # 120 orders: enough rows for every category, small enough that dbt dominates the run.
        seed_shop(generate_shop(120, seed=11), orders_url, payments_url)
        first = run_pipeline(settings)
        assert first.success, first.cause
        baseline = latest_json(settings)
        assert baseline is not None
        yield settings, baseline, my_admin, pg_admin, db
    finally:
        mp.undo()
        with my_admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        with pg_admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        my_admin.close()
        pg_admin.close()


def _mysql(db: str, *statements: str) -> None:
    import pymysql

    conn = pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=db, autocommit=True
    )
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def _pg(db: str, *statements: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=db)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def _assert_blocked(run, baseline: bytes, settings) -> None:
    assert not run.success
    assert not (run.steps_started & DOWNSTREAM_STEPS), (
        f"downstream ran: {run.steps_started & DOWNSTREAM_STEPS}"
    )
    assert latest_json(settings) == baseline, "latest.json changed"


def _assert_check_failed(run, check: str, *words: str) -> None:
    passed, description = run.check_descriptions[check]
    assert not passed, description
    for word in words:
        assert word in description, f"{word!r} not in {description!r}"


def test_lower_case_currency_blocks(deployment):
    settings, baseline, _, _, db = deployment
    _pg(
        db,
        "UPDATE payments SET currency = 'usd', updated_at = now() "
        "WHERE payment_id = (SELECT min(payment_id) FROM payments)",
    )
    try:
        run = run_pipeline(settings)
        _assert_blocked(run, baseline, settings)
        _assert_check_failed(run, "payments_batch:contract", "payments.currency", "ISO 4217", "'usd'")
        assert "orders_batch_contract" in run.steps_started  # the other source was still checked
    finally:
        _pg(db, "UPDATE payments SET currency = 'USD', updated_at = now() WHERE currency = 'usd'")


def test_duplicate_primary_key_blocks(deployment):
    """The table loses its PK constraint and a second row with an existing key arrives. The
    incremental batch holds only the new row and the landing upsert keeps one version, so the
    check's source probe is what sees it."""
    settings, baseline, _, _, db = deployment
    _mysql(
        db,
        "ALTER TABLE orders DROP PRIMARY KEY",
        "INSERT INTO orders (order_id, customer_id, status, currency, total_amount, created_at, updated_at) "
        "SELECT order_id, customer_id, status, currency, total_amount, created_at, UTC_TIMESTAMP(6) "
        "FROM orders WHERE order_id = 1",
    )
    try:
        run = run_pipeline(settings)
        _assert_blocked(run, baseline, settings)
        _assert_check_failed(run, "orders_batch:contract", "orders.order_id", "unique primary key")
    finally:
        _mysql(
            db,
            "DELETE FROM orders WHERE order_id = 1 ORDER BY updated_at DESC LIMIT 1",
            "ALTER TABLE orders ADD PRIMARY KEY (order_id)",
            "UPDATE orders SET updated_at = UTC_TIMESTAMP(6) WHERE order_id = 1",
        )


def test_renamed_column_blocks(deployment):
    settings, baseline, _, _, db = deployment
    _mysql(db, "ALTER TABLE orders CHANGE customer_id customer_ref BIGINT NOT NULL")
    try:
        run = run_pipeline(settings)
        _assert_blocked(run, baseline, settings)
        # Every table's batch is one step (issue 27): its failure names the table first.
        assert run.cause and "step source_batches failed: orders: " in run.cause
        assert "table orders is missing column customer_id" in run.cause
        assert "orders_batch_contract" not in run.steps_started
    finally:
        _mysql(db, "ALTER TABLE orders CHANGE customer_ref customer_id BIGINT NOT NULL")


def test_retyped_column_blocks(deployment):
    settings, baseline, _, _, db = deployment
    _pg(db, "ALTER TABLE payments ALTER COLUMN amount TYPE double precision")
    try:
        run = run_pipeline(settings)
        _assert_blocked(run, baseline, settings)
        assert run.cause and "step source_batches failed: payments: " in run.cause
        assert "table payments column amount has type double precision" in run.cause
    finally:
        _pg(db, "ALTER TABLE payments ALTER COLUMN amount TYPE numeric(18,2)")


def test_dropped_column_blocks(deployment):
    settings, baseline, _, _, db = deployment
    _pg(
        db,
        "ALTER TABLE payments ADD COLUMN provider_copy varchar(32)",
        "UPDATE payments SET provider_copy = provider",
        "ALTER TABLE payments DROP COLUMN provider",
    )
    try:
        run = run_pipeline(settings)
        _assert_blocked(run, baseline, settings)
        assert "table payments is missing column provider" in (run.cause or "")
    finally:
        _pg(
            db,
            "ALTER TABLE payments RENAME COLUMN provider_copy TO provider",
            "ALTER TABLE payments ALTER COLUMN provider SET NOT NULL",
        )


def test_pipeline_recovers_after_repairs(deployment):
    """Once every source is repaired, the next run publishes again (and the checks pass)."""
    settings, baseline, _, _, _ = deployment
    run = run_pipeline(settings)
    assert run.success, run.cause
    assert run.check_descriptions["orders_batch:contract"][0]
    assert run.check_descriptions["payments_batch:contract"][0]
    assert latest_json(settings) != baseline
