"""A shop selling in three currencies (USD, EUR, JPY): every total the platform publishes is per
currency and equals what the sources say for that currency alone; a sum across currencies appears
nowhere (summary.json, summary.html, the manifest, the report tables, the Finance notice)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from finance_recon.alerting.sensors import finance_message
from finance_recon.cli.pipeline import RunOutcome, RunRequestOptions, execute
from finance_recon.demo.generator import Shop
from finance_recon.demo.seed import seed_shop
from finance_recon.names import REPORT_KEY
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.report.store import LocalReportStore
from finance_recon.settings import Settings
from finance_recon.warehouse import connect
from tests.shops import ANCHOR, CURRENCIES, embedded_deployment, three_currency_shop


@dataclass
class Published:
    settings: Settings
    shop: Shop
    run: RunOutcome

    def artifact(self, name: str) -> bytes:
        entry = next(f for f in self.run.manifest["files"] if f["name"] == name)
        return LocalReportStore(self.settings.reports_uri).get(entry["key"])


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Published:
    home: Path = tmp_path_factory.mktemp("three_currencies")
    with pytest.MonkeyPatch.context() as mp:
        settings = embedded_deployment(mp, home)
        shop = three_currency_shop()
        seed_shop(shop, settings.orders_url, settings.payments_url)
        run = execute(RunRequestOptions(as_of=format_ts(ANCHOR), full_refresh=True), settings)
        assert run.success, run.cause
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(REPORT_KEY)
        published = Published(settings, shop, run)
        published.metadata = event.asset_materialization.metadata  # type: ignore[attr-defined]
        yield published


def _expected_by_currency(shop: Shop) -> dict[str, Decimal]:
    """contracts §2 from the source rows alone: total_amount of paid/shipped/delivered orders created
    by the cut-off, per currency."""
    orders = shop.orders.filter(
        pc.and_(
            pc.is_in(shop.orders["status"], pa.array(["paid", "shipped", "delivered"])),
            pc.less_equal(shop.orders["created_at"], pa.scalar(ANCHOR, pa.timestamp("us", tz="UTC"))),
        )
    )
    totals: dict[str, Decimal] = {}
    for row in orders.select(["currency", "total_amount"]).to_pylist():
        totals[row["currency"]] = totals.get(row["currency"], Decimal("0")) + Decimal(row["total_amount"])
    return totals


def test_totals_are_one_entry_per_currency_equal_to_the_sources(published: Published):
    totals = {t["currency"]: t for t in published.run.manifest["totals_by_currency"]}
    assert sorted(totals) == sorted(CURRENCIES)
    for currency, expected in _expected_by_currency(published.shop).items():
        assert Decimal(totals[currency]["total_expected"]) == expected, currency
    summary = json.loads(published.artifact("summary.json"))
    assert summary["totals_by_currency"] == published.run.manifest["totals_by_currency"]
    assert "totals" not in summary
    # Per currency, the break amount is Σ|difference| of that currency's open breaks in breaks.parquet.
    breaks = pq.read_table(pa.BufferReader(published.artifact("breaks.parquet")))
    open_breaks = breaks.filter(pc.not_equal(breaks["lifecycle"], "resolved")).to_pylist()
    for currency in CURRENCIES:
        mine = [b for b in open_breaks if b["currency"] == currency]
        assert Decimal(totals[currency]["break_amount"]) == sum(
            (abs(b["difference"]) for b in mine), Decimal("0")
        )
        assert totals[currency]["break_count"] == len(mine)
    # Counts stay global, and add up across currencies.
    assert sum(t["break_count"] for t in totals.values()) == summary["breaks"]
    assert sum(t["order_count"] for t in totals.values()) == summary["orders_considered"]
    # Every category's money is split by currency too.
    for category in summary["by_category"].values():
        assert category["items"] == sum(m["items"] for m in category["by_currency"])


def _cross_currency_sums(totals: list[dict]) -> set[str]:
    """The cross-currency sums a mixing report would show, written the ways it could show them."""
    sums = set()
    for name in ("total_expected", "total_net", "break_amount"):
        value = sum((Decimal(t[name]) for t in totals), Decimal("0"))
        if any(Decimal(t[name]) == value for t in totals):  # one currency holds it all: not a mix
            continue
        sums |= {str(value), f"{value:,}"}
    return sums


def test_no_published_figure_adds_currencies_together(published: Published):
    totals = published.run.manifest["totals_by_currency"]
    mixed = _cross_currency_sums(totals)
    assert mixed  # three currencies with money in each: there is a sum to look for
    texts = {
        "summary.json": published.artifact("summary.json").decode(),
        "summary.html": published.artifact("summary.html").decode(),
        "manifest.json": json.dumps(published.run.manifest),
        "Finance notice": json.dumps(finance_message(published.metadata, published.run.run_id)),
    }
    for where, text in texts.items():
        for value in mixed:
            assert value not in text, f"{where} shows the cross-currency sum {value}"
    notice = finance_message(published.metadata, published.run.run_id)
    assert [t["currency"] for t in notice["report"]["totals_by_currency"]] == sorted(CURRENCIES)
    for currency in CURRENCIES:
        assert f"{currency}: expected" in notice["text"]


def test_report_tables_hold_one_totals_row_per_currency(published: Published):
    with connect(published.settings.warehouse_path, read_only=True) as conn:
        columns = {r[0] for r in conn.execute("describe finance_reconciliation_report").fetchall()}
        rows = conn.execute(
            "select currency, total_expected, total_net, break_amount, break_count "
            "from finance_reconciliation_report_totals where run_id = ? order by currency",
            [published.run.run_id],
        ).fetchall()
    assert not columns & {"total_expected", "total_net", "break_amount"}  # no mixed total on the run row
    by_manifest = {t["currency"]: t for t in published.run.manifest["totals_by_currency"]}
    assert [r[0] for r in rows] == sorted(CURRENCIES)
    for currency, expected, net, break_amount, break_count in rows:
        t = by_manifest[currency]
        assert (expected, net, break_amount) == tuple(
            Decimal(t[k]) for k in ("total_expected", "total_net", "break_amount")
        )
        assert break_count == t["break_count"]
