"""A deterministic synthetic shop with its own ground truth.

`generate_shop(n_orders, seed)` draws a category for every order (and a few stray payments) in
realistic proportions, then writes the orders and payments that produce exactly that category under
contracts §2 with the default parameters (τ = 0.00, G = 60 min), for any `as_of` in
[anchor, anchor + 20 min]. The ground truth is therefore known per row and tests can compare the
reconciliation against it. Vectorised with numpy: 1M orders take a couple of seconds.

The shop sells in three currencies (`CURRENCIES`: USD, EUR, JPY), each order in one, its payments in
the order's currency (a `currency_mismatch` pays in another). The currencies are drawn from their own
random stream, so a seed gives the same categories whatever the currency mix. Money is built as
integer minor units and handed to Arrow as decimal128(18, 2) without passing through floats; JPY has
no minor unit (ISO 4217 exponent 0), so its amounts are whole yen (`.00`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from finance_recon.contracts import MONEY, ORDERS, PAYMENTS, UTC_TS

CURRENCIES = ("USD", "EUR", "JPY")
CURRENCY_WEIGHTS = np.array([0.6, 0.25, 0.15])
MINOR_UNIT_DIGITS = {"USD": 2, "EUR": 2, "JPY": 0}  # ISO 4217 exponents
# The money columns hold 2 decimal places: one minor unit of each currency in hundredths.
HUNDREDTHS_PER_MINOR_UNIT = np.array([10 ** (2 - MINOR_UNIT_DIGITS[c]) for c in CURRENCIES], dtype=np.int64)
PROVIDERS = np.array(["stripe", "adyen", "paypal"])
PROVIDER_WEIGHTS = np.array([0.6, 0.3, 0.1])

# Share of orders per ground-truth category; the "matched_*" variants are different ways to match.
ORDER_MIX: dict[str, float] = {
    "matched_single": 0.62,
    "matched_split": 0.04,  # two charges adding up to the total
    "matched_retry": 0.05,  # a failed attempt, then a successful charge
    "matched_cancelled_unpaid": 0.03,
    "matched_cancelled_refunded": 0.02,
    "matched_refunded": 0.02,
    "open": 0.04,
    "in_flight_pending": 0.015,
    "in_flight_uncaptured": 0.015,
    "currency_mismatch": 0.005,
    "order_status_lag": 0.01,
    "missing_payment": 0.015,
    "underpaid": 0.01,
    "overpaid": 0.005,
    "duplicate_charge": 0.01,
    "refund_due": 0.01,
    "over_refunded": 0.005,
}
ORPHAN_SHARE = 0.004  # stray payments per order: old ones are orphan_payment
ORPHAN_IN_FLIGHT_SHARE = 0.002  # recent stray payments: in_flight

US = 1_000_000
MINUTE = 60 * US
DAY = 24 * 60 * MINUTE


@dataclass(frozen=True)
class Shop:
    orders: pa.Table
    payments: pa.Table
    ground_truth: pa.Table  # item_key, category
    anchor: datetime

    def expected_counts(self) -> dict[str, int]:
        cats = self.ground_truth.column("category").to_pylist()
        counts: dict[str, int] = {}
        for c in cats:
            counts[c] = counts.get(c, 0) + 1
        return dict(sorted(counts.items()))


def _money(cents: np.ndarray) -> pa.Array:
    """Integer cents → decimal128(18, 2), exactly (the unscaled value is the cent count)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension into the high 64 bits
    return pa.Array.from_buffers(MONEY, len(cents), [None, pa.py_buffer(words.tobytes())])


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64), type=UTC_TS)


class _Payments:
    """Column buffers for payments, appended per category in vectorised chunks."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in PAYMENTS.column_names}

    def add(self, *, order_id, provider, kind, status, currency, cents, created, updated) -> None:
        n = len(cents)
        if n == 0:
            return
        self.parts["order_id"].append(np.asarray(order_id, dtype=object))
        self.parts["provider"].append(np.asarray(provider, dtype=object))
        self.parts["kind"].append(np.full(n, kind, dtype=object) if isinstance(kind, str) else kind)
        self.parts["status"].append(np.full(n, status, dtype=object) if isinstance(status, str) else status)
        self.parts["currency"].append(
            np.full(n, currency, dtype=object) if isinstance(currency, str) else currency
        )
        self.parts["amount"].append(np.asarray(cents, dtype=np.int64))
        self.parts["created_at"].append(np.asarray(created, dtype=np.int64))
        self.parts["updated_at"].append(np.asarray(updated, dtype=np.int64))

    def table(self, rng: np.random.Generator) -> pa.Table:
        cols = {
            k: np.concatenate(v) if v else np.array([], dtype=object)
            for k, v in self.parts.items()
            if k != "payment_id"
        }
        n = len(cols["amount"])
        # Provider ids are unique and unordered, like real ones.
        ids = rng.permutation(n) + 1
        payment_id = np.char.add("pay_", np.char.zfill(ids.astype(str), 10)).astype(object)
        order_ids = cols["order_id"]
        return pa.table(
            {
                "payment_id": pa.array(payment_id, pa.string()),
                "order_id": pa.array(order_ids.tolist(), pa.int64()),
                "provider": pa.array(cols["provider"], pa.string()),
                "kind": pa.array(cols["kind"], pa.string()),
                "status": pa.array(cols["status"], pa.string()),
                "currency": pa.array(cols["currency"], pa.string()),
                "amount": _money(cols["amount"]),
                "created_at": _ts(cols["created_at"]),
                "updated_at": _ts(cols["updated_at"]),
            },
            schema=PAYMENTS.arrow_schema,
        )


def generate_shop(n_orders: int = 10_000, seed: int = 7, anchor: datetime | None = None) -> Shop:
    """Build a shop of `n_orders` orders; every row's category is recorded in `ground_truth`."""
    if anchor is None:
        anchor = datetime.now(UTC).replace(microsecond=0)
    anchor = anchor.astimezone(UTC)
    a_us = int(anchor.timestamp()) * US + anchor.microsecond
    rng = np.random.default_rng(seed)

    names = np.array(list(ORDER_MIX))
    weights = np.array(list(ORDER_MIX.values()))
    kinds = rng.choice(len(names), size=n_orders, p=weights / weights.sum())
    order_id = np.arange(1, n_orders + 1, dtype=np.int64)
    customer_id = rng.integers(1, max(2, n_orders // 3), size=n_orders, dtype=np.int64)
    total = rng.integers(500, 50_000, size=n_orders, dtype=np.int64)  # 5.00 .. 500.00 (¥500 .. ¥50,000)
    # Each order's currency, from a stream of its own (the categories above do not move with it).
    money_rng = np.random.default_rng([seed, 4217])
    currency_index = money_rng.choice(len(CURRENCIES), size=n_orders, p=CURRENCY_WEIGHTS)
    order_currency = np.array(CURRENCIES, dtype=object)[currency_index]
    # Amounts are drawn in minor units; × this gives the hundredths stored (JPY: whole yen).
    unit = HUNDREDTHS_PER_MINOR_UNIT[currency_index]
    # Settled orders are spread over 45 days; recent ones (in flight) are 5–35 minutes old.
    created = a_us - rng.integers(3 * 60 * MINUTE, 45 * DAY, size=n_orders)
    recent = np.isin(names[kinds], ["in_flight_pending", "in_flight_uncaptured"])
    created[recent] = a_us - rng.integers(5 * MINUTE, 35 * MINUTE, size=int(recent.sum()))
    status = np.empty(n_orders, dtype=object)
    truth = np.empty(n_orders, dtype=object)
    pay = _Payments()

    def provider(n: int) -> np.ndarray:
        return rng.choice(PROVIDERS, size=n, p=PROVIDER_WEIGHTS).astype(object)

    def after(base: np.ndarray, lo_min: int = 0, hi_min: int = 3) -> np.ndarray:
        """A time shortly after `base`, never after the anchor."""
        return np.minimum(
            base + rng.integers(lo_min * MINUTE, hi_min * MINUTE + 1, size=len(base)), a_us - US
        )

    def charge(
        idx: np.ndarray, minor: np.ndarray, *, status_: str = "succeeded", foreign: bool = False
    ) -> None:
        """Charges of the orders `idx` of `minor` units each, in the order's currency (`foreign`: the
        next currency of `CURRENCIES`, its amount in that currency's units)."""
        c = after(created[idx])
        paid_in = (currency_index[idx] + 1) % len(CURRENCIES) if foreign else currency_index[idx]
        pay.add(
            order_id=order_id[idx],
            provider=provider(len(idx)),
            kind="charge",
            status=status_,
            currency=np.array(CURRENCIES, dtype=object)[paid_in],
            cents=minor * HUNDREDTHS_PER_MINOR_UNIT[paid_in],
            created=c,
            updated=after(c, 0, 1),
        )

    def reverse(idx: np.ndarray, minor: np.ndarray, kind: str = "refund") -> None:
        c = after(created[idx], 60, 24 * 60)
        pay.add(
            order_id=order_id[idx],
            provider=provider(len(idx)),
            kind=kind,
            status="succeeded",
            currency=order_currency[idx],
            cents=minor * unit[idx],
            created=c,
            updated=after(c, 0, 1),
        )

    paid_family = np.array(["paid", "shipped", "delivered"], dtype=object)
    for ki, name in enumerate(names):
        idx = np.flatnonzero(kinds == ki)
        n = len(idx)
        if n == 0:
            continue
        t = total[idx]
        if name.startswith("matched"):
            truth[idx] = "matched"
        elif name.startswith("in_flight"):
            truth[idx] = "in_flight"
        else:
            truth[idx] = name
        if name in (
            "matched_single",
            "matched_split",
            "matched_retry",
            "in_flight_uncaptured",
            "currency_mismatch",
            "missing_payment",
            "underpaid",
            "overpaid",
            "duplicate_charge",
        ):
            status[idx] = rng.choice(paid_family, size=n)
        if name == "matched_single":
            charge(idx, t)
        elif name == "matched_split":
            first = t // 3
            charge(idx, first)
            charge(idx, t - first)
        elif name == "matched_retry":
            charge(idx, t, status_="failed")
            charge(idx, t)
        elif name == "matched_cancelled_unpaid":
            status[idx] = "cancelled"
        elif name == "matched_cancelled_refunded":
            status[idx] = "cancelled"
            charge(idx, t)
            reverse(idx, t)
        elif name == "matched_refunded":
            status[idx] = "refunded"
            charge(idx, t)
            partial = t // 4
            reverse(idx, partial)
            reverse(idx, t - partial)
        elif name == "open":
            status[idx] = "pending"
            some = idx[rng.random(n) < 0.3]  # an abandoned checkout leaves a failed attempt
            charge(some, total[some], status_="failed")
        elif name == "in_flight_pending":
            status[idx] = "pending"
            charge(idx, t)
        elif name == "in_flight_uncaptured":
            some = idx[rng.random(n) < 0.5]  # an authorisation still pending at the provider
            charge(some, total[some], status_="pending")
        elif name == "currency_mismatch":
            charge(idx, t, foreign=True)
        elif name == "order_status_lag":
            status[idx] = "pending"
            charge(idx, t)
        elif name == "missing_payment":
            some = idx[rng.random(n) < 0.5]
            charge(some, total[some], status_="failed")
        elif name == "underpaid":
            charge(idx, t - rng.integers(1, np.maximum(t // 2, 2)))
        elif name == "overpaid":
            charge(idx, t + rng.integers(1, 2_000, size=n))
        elif name == "duplicate_charge":
            charge(idx, t)
            charge(idx, t)
        elif name == "refund_due":
            status[idx] = rng.choice(np.array(["cancelled", "refunded"], dtype=object), size=n)
            charge(idx, t)
        elif name == "over_refunded":
            status[idx] = "refunded"
            charge(idx, t)
            reverse(idx, t)
            reverse(idx, rng.integers(100, np.maximum(t, 101)), kind="chargeback")

    # Orders were last touched when their last payment (or status move) happened.
    updated = after(created, 1, 120)

    # Stray payments: no order id, or an id no order has.
    truth_keys = [np.char.add("order:", order_id.astype(str)).astype(object)]
    truth_cats = [truth]
    n_old = int(round(n_orders * ORPHAN_SHARE))
    n_new = int(round(n_orders * ORPHAN_IN_FLIGHT_SHARE))
    for n, lo, hi in (
        (n_old, 3 * 60 * MINUTE, 30 * DAY),
        (n_new, 5 * MINUTE, 35 * MINUTE),
    ):  # orphan, in flight
        if n == 0:
            continue
        c = a_us - rng.integers(lo, hi, size=n)
        oid = np.where(rng.random(n) < 0.5, None, n_orders + 1 + rng.integers(0, 1_000_000, size=n)).astype(
            object
        )
        stray_currency = money_rng.choice(len(CURRENCIES), size=n, p=CURRENCY_WEIGHTS)
        pay.add(
            order_id=oid,
            provider=provider(n),
            kind="charge",
            status="succeeded",
            currency=np.array(CURRENCIES, dtype=object)[stray_currency],
            cents=rng.integers(500, 50_000, size=n) * HUNDREDTHS_PER_MINOR_UNIT[stray_currency],
            created=c,
            updated=after(c, 0, 1),
        )
    payments = pay.table(rng)
    # The stray payments are the last rows appended; their ids give the payment ground truth.
    n_stray = n_old + n_new
    if n_stray:
        stray_ids = np.asarray(payments.column("payment_id").to_pylist()[-n_stray:], dtype=object)
        truth_keys.append(np.char.add("payment:", stray_ids.astype(str)).astype(object))
        truth_cats.append(np.array(["orphan_payment"] * n_old + ["in_flight"] * n_new, dtype=object))

    orders = pa.table(
        {
            "order_id": pa.array(order_id, pa.int64()),
            "customer_id": pa.array(customer_id, pa.int64()),
            "status": pa.array(status, pa.string()),
            "currency": pa.array(order_currency, pa.string()),
            "total_amount": _money(total * unit),
            "created_at": _ts(created),
            "updated_at": _ts(updated),
        },
        schema=ORDERS.arrow_schema,
    )
    ground_truth = pa.table(
        {
            "item_key": pa.array(np.concatenate(truth_keys), pa.string()),
            "category": pa.array(np.concatenate(truth_cats), pa.string()),
        }
    )
    return Shop(orders=orders, payments=payments, ground_truth=ground_truth, anchor=anchor)
