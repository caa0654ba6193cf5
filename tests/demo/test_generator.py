"""The demo shop sells in USD, EUR and JPY (issue 25: a USD-only shop made README's
`breaks --currency EUR` find nothing): every order and payment in one of them, JPY in whole yen
(ISO 4217 exponent 0), a payment in its order's currency unless it is the deliberate mismatch; the
currencies never change which category an order gets for a seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from finance_recon.demo.generator import CURRENCIES, generate_shop

ANCHOR = datetime(2026, 12, 7, 2, 41, 11, tzinfo=UTC)


def test_the_demo_shop_sells_in_three_currencies_jpy_in_whole_yen():
    shop = generate_shop(3_000, seed=7, anchor=ANCHOR)
    orders = shop.orders.to_pylist()
    payments = shop.payments.to_pylist()
    by_currency = Counter(o["currency"] for o in orders)
    assert set(by_currency) == set(CURRENCIES) == {"USD", "EUR", "JPY"}
    assert all(n >= 300 for n in by_currency.values()), by_currency  # each a real share of the shop
    assert {p["currency"] for p in payments} == set(CURRENCIES)
    for row, amount in [(o, o["total_amount"]) for o in orders] + [(p, p["amount"]) for p in payments]:
        assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -2
        if row["currency"] == "JPY":
            assert amount == amount.to_integral_value(), row  # no minor unit

    currency_of = {o["order_id"]: o["currency"] for o in orders}
    truth = dict(
        zip(shop.ground_truth["item_key"].to_pylist(), shop.ground_truth["category"].to_pylist(), strict=True)
    )
    mismatched = {
        p["order_id"]
        for p in payments
        if p["order_id"] in currency_of and p["currency"] != currency_of[p["order_id"]]
    }
    assert mismatched and {truth[f"order:{oid}"] for oid in mismatched} == {"currency_mismatch"}


def test_the_currencies_do_not_move_the_categories_of_a_seed():
    """The currencies come from their own random stream: the category counts of a seed are those the
    README shows for `finance-recon demo --orders 300` (seed 7)."""
    counts = generate_shop(300, seed=7, anchor=ANCHOR).expected_counts()
    assert counts["matched"] == 255 and counts["open"] == 14 and counts["orphan_payment"] == 1
