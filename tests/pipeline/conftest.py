"""A deployment on the embedded default, shared by the pipeline tests of this package.

A temp FINANCE_RECON_HOME with a 2,000-order generated shop, and three real runs of the whole graph:
- "first" and "rerun" use the same as_of: every artifact must be byte-identical (contracts §3);
- "later", ten minutes on, after one `missing_payment` order was paid: lifecycle persisting/resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from finance_recon.cli.pipeline import RunOutcome, RunRequestOptions, execute
from finance_recon.demo.generator import Shop, generate_shop
from finance_recon.demo.seed import seed_shop
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.report.store import LocalReportStore
from finance_recon.settings import Settings
from tests.shops import embedded_deployment

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@dataclass
class Deployment:
    settings: Settings
    shop: Shop
    runs: dict[str, RunOutcome]

    @property
    def store(self) -> LocalReportStore:
        return LocalReportStore(self.settings.reports_uri)

    def artifact(self, run: RunOutcome, name: str) -> bytes:
        entry = next(f for f in run.manifest["files"] if f["name"] == name)
        return self.store.get(entry["key"])


def _pay_one_missing_order(settings: Settings, shop: Shop, as_of: datetime) -> int:
    """Give one `missing_payment` order the charge it lacked; returns its order id."""
    import duckdb

    truth = shop.ground_truth.to_pylist()
    key = next(r["item_key"] for r in truth if r["category"] == "missing_payment")
    order_id = int(key.split(":")[1])
    total = next(r["total_amount"] for r in shop.orders.to_pylist() if r["order_id"] == order_id)
    paid_at = as_of - timedelta(minutes=1)
    path = settings.payments_url.removeprefix("duckdb:///")
    with duckdb.connect(path) as conn:
        conn.execute(
            "insert into payments values ('pay_late_fix', ?, 'stripe', 'charge', 'succeeded', 'USD', ?, ?, ?)",
            [order_id, total, paid_at, paid_at],
        )
    return order_id


@pytest.fixture(scope="package")
def deployment(tmp_path_factory) -> Deployment:
    home = tmp_path_factory.mktemp("finance_recon_home")
    with pytest.MonkeyPatch.context() as mp:
        settings = embedded_deployment(mp, home)
        shop = generate_shop(2_000, seed=11, anchor=ANCHOR)
        seed_shop(shop, settings.orders_url, settings.payments_url)
        runs: dict[str, RunOutcome] = {}
        runs["first"] = execute(RunRequestOptions(as_of=format_ts(ANCHOR), full_refresh=True), settings)
        runs["rerun"] = execute(RunRequestOptions(as_of=format_ts(ANCHOR)), settings)
        later = ANCHOR + timedelta(minutes=10)
        fixed_order = _pay_one_missing_order(settings, shop, later)
        runs["later"] = execute(RunRequestOptions(as_of=format_ts(later)), settings)
        deployment = Deployment(settings=settings, shop=shop, runs=runs)
        deployment.fixed_order = fixed_order  # type: ignore[attr-defined]
        yield deployment
