"""Shops the tests build beyond the demo generator's defaults, and the embedded deployment they run in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from finance_recon.demo.generator import CURRENCIES, Shop, generate_shop
from finance_recon.settings import Settings, load_settings

ANCHOR = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def three_currency_shop(n_orders: int = 600, anchor: datetime = ANCHOR) -> Shop:
    """The generated shop: each order sold in USD, EUR or JPY (whole yen); its payments follow their
    order's currency, except the generator's deliberate currency mismatches."""
    shop = generate_shop(n_orders, seed=23, anchor=anchor)
    assert set(shop.orders["currency"].to_pylist()) == set(CURRENCIES)
    return shop


def embedded_deployment(mp, home: Path) -> Settings:
    """Settings of a deployment rooted at `home` on the embedded defaults (DuckDB sources under
    `home/demo`, its own warehouse, Dagster instance and local report store), set through the
    environment with the MonkeyPatch `mp`, as production reads them."""
    for name in ("FINANCE_RECON_ORDERS_URL", "FINANCE_RECON_PAYMENTS_URL", "FINANCE_RECON_REPORTS_URI"):
        mp.delenv(name, raising=False)
    mp.setenv("FINANCE_RECON_HOME", str(home))
    mp.setenv("FINANCE_RECON_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))
    mp.setenv("DAGSTER_HOME", str(home / "dagster"))
    settings = load_settings()
    settings.demo_dir.mkdir(parents=True)
    return settings
