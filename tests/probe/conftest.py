"""One shop on the real MariaDB and PostgreSQL servers, reconciled twice with the prober on.

FINANCE_RECON_PROBE_UNMATCHED_EVERY=2. The database and user names are unique and dropped
afterwards (nothing else is touched):
- "refused" (cycle 1): the payments URL of a user that may only SELECT — the prober writes its
  order, its payment INSERT is refused: the run still publishes, the probe fails;
- "second" (cycle 2): the normal URL — the matched and the underpaid pair, the probe succeeds.
Both use the same as_of and have no previous run, so what Finance sees must be byte-identical
although the synthetic items differ, and equal to the generator's ground truth (a shop without
any probe). Two runs only: the test budget of this package is ~75 s.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from finance_recon.cli.pipeline import RunOutcome, RunRequestOptions, execute
from finance_recon.demo.generator import Shop, generate_shop
from finance_recon.demo.seed import seed_shop
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.report.store import LocalReportStore
from finance_recon.settings import Settings, load_settings
from tests.services import require_server

ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MYSQL = ("127.0.0.1", 3306)
PG = ("127.0.0.1", 5432)


@dataclass
class ProbedShop:
    settings: Settings
    shop: Shop
    orders_url: str
    payments_url: str
    runs: dict[str, RunOutcome]
    scrapes: dict[str, dict[str, float]]  # the exporter's samples right after each run

    @property
    def store(self) -> LocalReportStore:
        return LocalReportStore(self.settings.reports_uri)

    def artifact(self, run: str, name: str) -> bytes:
        entry = next(f for f in self.runs[run].manifest["files"] if f["name"] == name)
        return self.store.get(entry["key"])


def scrape(store) -> dict[str, float]:
    """What the exporter answers a Prometheus scrape, parsed back: {series name: value}."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from finance_recon.metrics.server import build_registry

    text = generate_latest(build_registry(store)).decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def _mysql_admin():
    import pymysql

    return pymysql.connect(host=MYSQL[0], port=MYSQL[1], user="root", password="", autocommit=True)


def _pg_admin():
    import psycopg2

    conn = psycopg2.connect(
        host=PG[0], port=PG[1], user=os.environ.get("PGUSER", "postgres"), dbname="postgres"
    )
    conn.autocommit = True
    return conn


@pytest.fixture(scope="package")
def probed_shop(tmp_path_factory):
    require_server("MariaDB/MySQL", *MYSQL)
    require_server("PostgreSQL", *PG)
    name = f"fr_probe_{uuid.uuid4().hex[:10]}"
    reader = f"{name}_ro"
    mysql, pg = _mysql_admin(), _pg_admin()
    with mysql.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    with pg.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    orders_url = f"mysql+pymysql://root@{MYSQL[0]}:{MYSQL[1]}/{name}"
    payments_url = f"postgresql://postgres@{PG[0]}:{PG[1]}/{name}"
    home = tmp_path_factory.mktemp("probe_home")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("FINANCE_RECON_REPORTS_URI", raising=False)
            mp.setenv("FINANCE_RECON_HOME", str(home))
            mp.setenv("FINANCE_RECON_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))
            mp.setenv("DAGSTER_HOME", str(home / "dagster"))
            mp.setenv("FINANCE_RECON_ORDERS_URL", orders_url)
            mp.setenv("FINANCE_RECON_PAYMENTS_URL", payments_url)
            settings = load_settings()
            shop = generate_shop(200, seed=15, anchor=ANCHOR)
            seed_shop(shop, orders_url, payments_url)
            as_of = format_ts(ANCHOR)
            probing = settings.model_copy(update={"probe_enabled": True, "probe_unmatched_every": 2})
            # A user that may read the payments but not write them: the prober's INSERT is refused.
            import psycopg2

            with pg.cursor() as cur:
                cur.execute(f'CREATE USER "{reader}"')
            db = psycopg2.connect(host=PG[0], port=PG[1], user="postgres", dbname=name)
            with db, db.cursor() as cur:
                cur.execute(f'GRANT SELECT ON public.payments TO "{reader}"')
            db.close()
            mp.setenv("FINANCE_RECON_PAYMENTS_URL", f"postgresql://{reader}@{PG[0]}:{PG[1]}/{name}")
            runs = {"refused": execute(RunRequestOptions(as_of=as_of, full_refresh=True), probing)}
            scrapes = {"refused": scrape(LocalReportStore(settings.reports_uri))}
            mp.setenv("FINANCE_RECON_PAYMENTS_URL", payments_url)
            runs["second"] = execute(RunRequestOptions(as_of=as_of), probing)
            scrapes["second"] = scrape(LocalReportStore(settings.reports_uri))
            yield ProbedShop(settings, shop, orders_url, payments_url, runs, scrapes)
    finally:
        with mysql.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        with pg.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cur.execute(f'DROP USER IF EXISTS "{reader}"')
        mysql.close()
        pg.close()
