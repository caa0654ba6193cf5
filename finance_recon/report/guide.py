"""What each category means to Finance, in one place: what happened, who acts, what to do.

The rules that assign a category live only in dbt (`dbt_project/models/`, contracts §2); this is the
reading of each category for the people who work the breaks, shown on `summary.html`. One entry per
category of `finance_recon.contracts.CATEGORIES` (tests/report/test_guide.py keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryGuide:
    happened: str
    who_acts: str
    to_do: str


GUIDE: dict[str, CategoryGuide] = {
    "matched": CategoryGuide(
        "Money received equals the amount due, within the tolerance.",
        "Nobody.",
        "Nothing.",
    ),
    "open": CategoryGuide(
        "A pending order with no money received yet.",
        "Nobody yet.",
        "Nothing: it becomes a break only if money arrives and the order is not updated.",
    ),
    "in_flight": CategoryGuide(
        "Order or payment younger than the grace window; the other side may still arrive.",
        "Nobody yet.",
        "Wait for the next run; it settles or becomes a break once older than the grace window.",
    ),
    "currency_mismatch": CategoryGuide(
        "A succeeded payment is in another currency than its order.",
        "Payments operations.",
        "Check the charge with the provider (payment_currencies); refund it and charge again in the order's currency.",
    ),
    "order_status_lag": CategoryGuide(
        "Money arrived for an order still pending after the grace window.",
        "Shop operations / the order service's team.",
        "Move the order to paid in the shop; several of these at once point to a stuck order-status update.",
    ),
    "missing_payment": CategoryGuide(
        "A paid, shipped or delivered order has no captured charge after the grace window.",
        "Finance (receivables).",
        "Ask the provider whether the charge exists; if not, collect from the customer or hold the shipment.",
    ),
    "underpaid": CategoryGuide(
        "Less money received than the order's amount, beyond the tolerance.",
        "Finance (receivables).",
        "Collect the difference, or correct a partial refund made in error.",
    ),
    "overpaid": CategoryGuide(
        "More money received than the order's amount, from a single charge.",
        "Finance (payables).",
        "Refund the difference to the customer.",
    ),
    "duplicate_charge": CategoryGuide(
        "More money received than the order's amount, from two or more charges.",
        "Payments operations.",
        "Refund the duplicate charge (payment_ids lists the charges).",
    ),
    "refund_due": CategoryGuide(
        "A cancelled or refunded order still holds the customer's money.",
        "Customer support / Finance.",
        "Issue the refund.",
    ),
    "over_refunded": CategoryGuide(
        "A cancelled or refunded order was refunded more than was captured.",
        "Finance (payables).",
        "Recover the excess from the customer or correct the refund with the provider.",
    ),
    "orphan_payment": CategoryGuide(
        "A succeeded payment names no order, older than the grace window.",
        "Payments operations.",
        "Find its order (customer, provider) and link it, or refund the payment.",
    ),
}
