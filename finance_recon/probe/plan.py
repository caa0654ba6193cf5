"""What one probe cycle writes and what the rules must make of it (contracts §2).

Cycle c writes the matched pair: order `PROBE_ORDER_ID_MIN + 2c` (paid, 10.00) with the succeeded
charge `probe-<c>-matched` of the same amount and currency → `matched`. Every N-th cycle it also
writes the unmatched pair: order `PROBE_ORDER_ID_MIN + 2c + 1` (paid, 10.00 + τ) with the charge
`probe-<c>-underpaid` of 9.99 → net falls short of expected − τ by one cent → `underpaid`, whatever
τ is. Both expectations hold at any age (a paid order with a capture is never in_flight nor
missing_payment), so neither depends on the grace window nor on when the run happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from finance_recon.contracts import PROBE_ORDER_ID_MIN, PROBE_PAYMENT_ID_PREFIX

PROBE_CURRENCY = "USD"
PROBE_CUSTOMER_ID = 0
PROBE_PROVIDER = "probe"
_BASE_AMOUNT = Decimal("10.00")
_SHORTFALL = Decimal("0.01")


@dataclass(frozen=True)
class ProbeItem:
    """One synthetic order and its one payment, with the category the rules must give the order."""

    cycle: int
    probe: str  # "matched" | "underpaid"
    order_id: int
    payment_id: str
    currency: str
    order_amount: Decimal
    payment_amount: Decimal
    expected_category: str

    @property
    def item_key(self) -> str:
        return f"order:{self.order_id}"


def is_unmatched_cycle(cycle: int, unmatched_every: int) -> bool:
    return cycle % unmatched_every == 0


def plan_cycle(cycle: int, *, unmatched_every: int, tolerance: Decimal) -> list[ProbeItem]:
    """The probe items of cycle `cycle` (≥ 1) for a run reconciling with tolerance τ."""
    if cycle < 1:
        raise ValueError(f"probe cycle must be ≥ 1, got {cycle}")
    items = [
        ProbeItem(
            cycle=cycle,
            probe="matched",
            order_id=PROBE_ORDER_ID_MIN + 2 * cycle,
            payment_id=f"{PROBE_PAYMENT_ID_PREFIX}{cycle}-matched",
            currency=PROBE_CURRENCY,
            order_amount=_BASE_AMOUNT,
            payment_amount=_BASE_AMOUNT,
            expected_category="matched",
        )
    ]
    if is_unmatched_cycle(cycle, unmatched_every):
        items.append(
            ProbeItem(
                cycle=cycle,
                probe="underpaid",
                order_id=PROBE_ORDER_ID_MIN + 2 * cycle + 1,
                payment_id=f"{PROBE_PAYMENT_ID_PREFIX}{cycle}-underpaid",
                currency=PROBE_CURRENCY,
                order_amount=_BASE_AMOUNT + tolerance,
                payment_amount=_BASE_AMOUNT - _SHORTFALL,
                expected_category="underpaid",
            )
        )
    return items
