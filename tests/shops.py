"""Shops the tests build beyond the demo generator's defaults."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from finance_recon.demo.generator import SHOP_CURRENCY, Shop, generate_shop

ANCHOR = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
CURRENCIES = ("USD", "EUR", "JPY")


def three_currency_shop(n_orders: int = 600, anchor: datetime = ANCHOR) -> Shop:
    """The generated shop with each order sold in USD, EUR or JPY (by order id); its payments follow
    their order's currency, except the generator's deliberate currency mismatches."""
    shop = generate_shop(n_orders, seed=23, anchor=anchor)
    order_ids = shop.orders["order_id"].to_pylist()
    currency_of = {oid: CURRENCIES[oid % 3] for oid in order_ids}
    orders = shop.orders.set_column(
        shop.orders.schema.get_field_index("currency"),
        "currency",
        pa.array([currency_of[oid] for oid in order_ids], pa.string()),
    )
    pay_currency = [
        currency_of.get(oid, cur) if cur == SHOP_CURRENCY else cur
        for oid, cur in zip(
            shop.payments["order_id"].to_pylist(), shop.payments["currency"].to_pylist(), strict=True
        )
    ]
    payments = shop.payments.set_column(
        shop.payments.schema.get_field_index("currency"), "currency", pa.array(pay_currency, pa.string())
    )
    return Shop(orders=orders, payments=payments, ground_truth=shop.ground_truth, anchor=anchor)
