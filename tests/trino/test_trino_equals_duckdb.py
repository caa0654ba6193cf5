"""The card's production engine against the embedded one: the same shop, in the same real MariaDB and
PostgreSQL, reconciled by the whole graph on DuckDB and on Trino over Iceberg, publishes byte-identical
`breaks.csv` and `summary.json` — after a full run, and after a second, incremental run that reads
late commits (rows whose `updated_at` lies before the watermark, inside the look-back window).

The shop sells in three currencies and holds every category, plus contracts §2's boundaries: an
unpaid order exactly G old (still in flight) and one a second older (a break), an order paid exactly
τ short of its amount.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv  # noqa: F401 (pa.csv)
import pytest

from finance_recon.cli.pipeline import RunOutcome, RunRequestOptions, execute
from finance_recon.demo.seed import seed_shop
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.report.store import LocalReportStore
from finance_recon.settings import Settings, load_settings
from tests.services import TRINO_PORT, require_server
from tests.shops import ANCHOR, three_currency_shop

pytestmark = [pytest.mark.mysql, pytest.mark.postgres, pytest.mark.trino, pytest.mark.slow]

GRACE = 60
TOLERANCE = "0.05"
LATER = ANCHOR + timedelta(minutes=10)


@dataclass
class Engines:
    duckdb: Settings
    trino: Settings
    runs: dict[str, RunOutcome]

    def artifact(self, run: str, name: str) -> bytes:
        outcome = self.runs[run]
        settings = self.trino if run.startswith("trino") else self.duckdb
        entry = next(f for f in outcome.manifest["files"] if f["name"] == name)
        return LocalReportStore(settings.reports_uri).get(entry["key"])


def _boundary_rows(shop, mysql, pg) -> None:
    """Contracts §2 at its edges, in the sources (ids above the generated shop's)."""
    at_grace = ANCHOR - timedelta(minutes=GRACE)
    rows = [
        # paid but nothing captured, created exactly G before as_of: still in flight
        (990001, "paid", "USD", "10.00", at_grace),
        # the same one second older: a missing_payment break
        (990002, "paid", "EUR", "11.00", at_grace - timedelta(seconds=1)),
        # paid exactly τ short: matched
        (990003, "paid", "JPY", "1000.00", ANCHOR - timedelta(days=1)),
        # paid a cent more than τ short: underpaid
        (990004, "paid", "USD", "20.00", ANCHOR - timedelta(days=1)),
    ]
    with mysql.cursor() as cur:
        for oid, status, cur_code, total, created in rows:
            cur.execute(
                "INSERT INTO orders VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    oid,
                    7,
                    status,
                    cur_code,
                    Decimal(total),
                    created.replace(tzinfo=None),
                    created.replace(tzinfo=None),
                ),
            )
    with pg.cursor() as cur:
        for pid, oid, cur_code, amount in (
            ("pay_edge_3", 990003, "JPY", Decimal("1000.00") - Decimal(TOLERANCE)),
            ("pay_edge_4", 990004, "USD", Decimal("20.00") - Decimal(TOLERANCE) - Decimal("0.01")),
        ):
            paid = ANCHOR - timedelta(hours=20)
            cur.execute(
                "INSERT INTO payments VALUES (%s, %s, 'stripe', 'charge', 'succeeded', %s, %s, %s, %s)",
                (pid, oid, cur_code, amount, paid, paid),
            )


def _late_commits(mysql, pg, watermark_gap: timedelta) -> None:
    """Rows committed now with an updated_at before the landed watermark, inside the look-back: a
    late payment for the boundary order left unpaid, and a status change of a generated order."""
    late = ANCHOR - watermark_gap
    with pg.cursor() as cur:
        cur.execute(
            "INSERT INTO payments VALUES ('pay_late_1', 990002, 'adyen', 'charge', 'succeeded', 'EUR', "
            "11.00, %s, %s)",
            (late, late),
        )
    with mysql.cursor() as cur:
        cur.execute(
            "UPDATE orders SET status = 'cancelled', updated_at = %s WHERE order_id = "
            "(SELECT order_id FROM (SELECT min(order_id) AS order_id FROM orders WHERE status = 'pending') AS o)",
            (late.replace(tzinfo=None),),
        )


def _settings(mp, home: Path, mysql_url: str, pg_url: str, **extra: str) -> Settings:
    mp.setenv("FINANCE_RECON_HOME", str(home))
    mp.setenv("DAGSTER_HOME", str(home / "dagster"))
    mp.setenv("FINANCE_RECON_ORDERS_URL", mysql_url)
    mp.setenv("FINANCE_RECON_PAYMENTS_URL", pg_url)
    mp.setenv("FINANCE_RECON_REPORTS_URI", str(home / "reports"))
    mp.setenv("FINANCE_RECON_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))
    mp.delenv("FINANCE_RECON_WAREHOUSE_TARGET", raising=False)
    for name, value in extra.items():
        mp.setenv(name, value)
    return load_settings()


def _run(
    home: Path, mysql_url: str, pg_url: str, as_of: datetime, *, full: bool = False, **extra: str
) -> tuple[Settings, RunOutcome]:
    """One run of the whole graph for the deployment at `home` (τ and G as run options)."""
    with pytest.MonkeyPatch.context() as mp:
        settings = _settings(mp, home, mysql_url, pg_url, **extra)
        options = RunRequestOptions(
            as_of=format_ts(as_of), tolerance=Decimal(TOLERANCE), grace_minutes=GRACE, full_refresh=full
        )
        return settings, execute(options, settings)


@pytest.fixture(scope="module")
def engines(tmp_path_factory, trino_schema) -> Engines:
    require_server("MariaDB", "127.0.0.1", 3306)
    require_server("PostgreSQL", "127.0.0.1", 5432)
    import psycopg2
    import pymysql

    db = f"fr_eq_{uuid.uuid4().hex[:8]}"
    mysql = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    pg_admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    pg_admin.autocommit = True
    with mysql.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"USE {db}")
    with pg_admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
    mysql_url = f"mysql+pymysql://root@127.0.0.1:3306/{db}"
    pg_url = f"postgresql://postgres@127.0.0.1:5432/{db}"
    pg = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=db)
    pg.autocommit = True
    try:
        shop = three_currency_shop(3_000)
        seed_shop(shop, mysql_url, pg_url)
        _boundary_rows(shop, mysql, pg)
        runs: dict[str, RunOutcome] = {}
        on_trino = {
            "FINANCE_RECON_WAREHOUSE_TARGET": "trino",
            "FINANCE_RECON_TRINO_SCHEMA": trino_schema,
            "FINANCE_RECON_TRINO_PORT": str(TRINO_PORT),
        }
        duck_home, trino_home = tmp_path_factory.mktemp("duckdb_home"), tmp_path_factory.mktemp("trino_home")
        duck, runs["duckdb_full"] = _run(duck_home, mysql_url, pg_url, ANCHOR, full=True)
        trino, runs["trino_full"] = _run(trino_home, mysql_url, pg_url, ANCHOR, full=True, **on_trino)
        _late_commits(mysql, pg, watermark_gap=timedelta(minutes=3))
        _, runs["duckdb_later"] = _run(duck_home, mysql_url, pg_url, LATER)
        _, runs["trino_later"] = _run(trino_home, mysql_url, pg_url, LATER, **on_trino)
        yield Engines(duckdb=duck, trino=trino, runs=runs)
    finally:
        pg.close()
        with mysql.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db}")
        mysql.close()
        with pg_admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        pg_admin.close()


@pytest.mark.parametrize("run", ["full", "later"])
def test_every_run_succeeds_on_both_engines(engines: Engines, run: str):
    for engine in ("duckdb", "trino"):
        outcome = engines.runs[f"{engine}_{run}"]
        assert outcome.success, f"{engine} {run}: {outcome.cause}"


@pytest.mark.parametrize("run", ["full", "later"])
@pytest.mark.parametrize("name", ["breaks.csv", "summary.json"])
def test_trino_publishes_byte_identical_artifacts(engines: Engines, run: str, name: str):
    duck, trino = engines.artifact(f"duckdb_{run}", name), engines.artifact(f"trino_{run}", name)
    assert duck == trino, f"{name} of the {run} run differs between DuckDB and Trino"


def test_the_shop_covers_every_category_three_currencies_and_the_boundaries(engines: Engines):
    import json

    summary = json.loads(engines.artifact("trino_full", "summary.json"))
    assert all(count > 0 for count in summary["counts"].values()), summary["counts"]
    assert {t["currency"] for t in summary["totals_by_currency"]} == {"USD", "EUR", "JPY"}
    breaks = pa.csv.read_csv(pa.BufferReader(engines.artifact("trino_full", "breaks.csv"))).to_pylist()
    category = {row["order_id"]: row["category"] for row in breaks}
    assert 990001 not in category  # exactly G old: in flight, no break
    assert category[990002] == "missing_payment"  # a second older: a break
    assert 990003 not in category  # exactly τ short: matched
    assert category[990004] == "underpaid"  # a cent beyond τ: a break


def test_the_incremental_run_reads_the_late_commits_on_trino(engines: Engines):
    import json

    later = json.loads(engines.artifact("trino_later", "summary.json"))
    assert later["lifecycle"]["resolved"] >= 1  # the late payment settled order 990002
    breaks = pa.csv.read_csv(pa.BufferReader(engines.artifact("trino_later", "breaks.csv"))).to_pylist()
    resolved = {row["order_id"] for row in breaks if row["lifecycle"] == "resolved"}
    assert 990002 in resolved


def test_the_runbook_question_is_answered_by_trino(engines: Engines):
    from tests.services import trino_connect, trino_query

    conn = trino_connect()
    schema = engines.trino.trino_schema
    rows = trino_query(
        conn, f"SELECT max(run_ended_at), count(*) FROM iceberg.{schema}.finance_reconciliation_report"
    )
    conn.close()
    assert rows[0][1] == 2
    ended = max(engines.runs[run].manifest["run_ended_at"] for run in ("trino_full", "trino_later"))
    assert rows[0][0] == datetime.fromisoformat(ended.replace("Z", "+00:00"))
