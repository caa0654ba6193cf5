"""Benchmark baselines for `bench.reconcile` — NOT part of the platform.

The reconciliation rules of contracts §2 live in one place: the dbt models (`dbt_project/`). The two
modules here re-implement the same rules *only* so the benchmark has something to compare the
platform against; nothing in `finance_recon` imports them and they must never be used to publish.

- `duckdb_sql`: one hand-written DuckDB query (the practical limit on the same landed data).
- `pandas_recon`: a straightforward pandas implementation, as an analyst would write it.

Both take the same parameters as the dbt project (`as_of`, `tolerance`, `grace_minutes`) and are
cross-checked against each other, the dbt models and the generator's ground truth on every run.
"""

from __future__ import annotations

CATEGORIES = (
    "matched",
    "open",
    "in_flight",
    "currency_mismatch",
    "order_status_lag",
    "missing_payment",
    "underpaid",
    "overpaid",
    "duplicate_charge",
    "refund_due",
    "over_refunded",
    "orphan_payment",
)
"""The categories of contracts §2 in rule order (duplicated from `finance_recon.contracts` so that the
baseline subprocesses import neither the platform nor its dependencies)."""
