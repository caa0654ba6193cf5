"""Helpers for the metrics tests: manifests written by hand in the report-store layout (contracts §3).

Each fixture report has a reason to exist: a stale one (the SLA is breached), a fresh one (a run
just happened), one with null watermarks (a source that never had rows).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from finance_recon.contracts import CATEGORIES
from tests.services import require_binary  # noqa: F401 (shared helpers)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(UTC).isoformat()


def publish_report(
    store,
    run_id: str,
    run_ended_at: datetime,
    *,
    counts: dict[str, int] | None = None,
    verdict: str | None = None,
    orders_max_updated_at: datetime | None = None,
    payments_max_updated_at: datetime | None = None,
    as_of: datetime | None = None,
    previous_run_id: str | None = None,
    write_latest: bool = True,
) -> str:
    """Publish like the lead's publisher: artifacts, then manifest.json, then latest.json. Returns the manifest key."""
    as_of = as_of or run_ended_at - timedelta(minutes=2)
    full_counts = dict.fromkeys(CATEGORIES, 0)
    full_counts.update(counts or {"matched": 10})
    if verdict is None:
        breaks = sum(v for k, v in full_counts.items() if k not in ("matched", "open", "in_flight"))
        verdict = (
            "breaks" if breaks else ("reconciled_with_pending" if full_counts["in_flight"] else "reconciled")
        )
    prefix = f"dt={as_of:%Y-%m-%d}/run={run_id}"
    breaks_csv = b"break_id,category\n"
    store.put(f"{prefix}/breaks.csv", breaks_csv, "text/csv")
    manifest = {
        "schema_version": 1,
        "run_id": run_id,
        "as_of": iso(as_of),
        "run_started_at": iso(run_ended_at - timedelta(seconds=90)),
        "run_ended_at": iso(run_ended_at),
        "parameters": {"tolerance": "0.00", "grace_minutes": 60},
        "verdict": verdict,
        "counts": full_counts,
        "totals_by_currency": [
            {"currency": "EUR", "total_expected": "10.00", "total_net": "10.00", "break_amount": "0.00"},
            {"currency": "USD", "total_expected": "1234.50", "total_net": "1200.00", "break_amount": "34.50"},
        ],
        "watermarks": {
            "orders_max_updated_at": iso(orders_max_updated_at),
            "payments_max_updated_at": iso(payments_max_updated_at),
        },
        "previous_run_id": previous_run_id,
        "files": [
            {
                "name": "breaks.csv",
                "key": f"{prefix}/breaks.csv",
                "bytes": len(breaks_csv),
                "sha256": hashlib.sha256(breaks_csv).hexdigest(),
                "rows": 0,
            }
        ],
    }
    manifest_key = f"{prefix}/manifest.json"
    store.put(manifest_key, json.dumps(manifest, indent=2).encode(), "application/json")
    if write_latest:
        latest = {
            "run_id": run_id,
            "manifest_key": manifest_key,
            "as_of": iso(as_of),
            "run_ended_at": iso(run_ended_at),
            "verdict": verdict,
        }
        store.put("latest.json", json.dumps(latest).encode(), "application/json")
    return manifest_key
