"""A report store published in the per-currency shape (two runs) and one older run in the old shape."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finance_recon.report.breaks import BREAKS_SCHEMA
from finance_recon.report.history import latest_run
from finance_recon.report.publish import publish
from finance_recon.report.render import Artifact
from finance_recon.report.store import LocalReportStore

AS_OF = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def _breaks(as_of: datetime) -> bytes:
    rows = [
        # (break_id, category, lifecycle, currency, expected, age days)
        ("b1", "duplicate_charge", "new", "EUR", "10.00", 0.2),
        ("b2", "missing_payment", "persisting", "USD", "25.50", 4),
        ("b3", "underpaid", "new", "JPY", "1200.00", 10),
        ("b4", "duplicate_charge", "persisting", "USD", "7.25", 2),
    ]
    table = pa.Table.from_pylist(
        [
            {
                "break_id": b,
                "item_key": f"order:{i}",
                "item_type": "order",
                "order_id": i,
                "payment_id": f"pay_{i}",
                "order_status": "paid",
                "category": c,
                "previous_category": None,
                "lifecycle": lc,
                "first_seen_at": as_of - timedelta(days=age),
                "created_at": as_of - timedelta(days=age),
                "age_bucket": "x",
                "currency": cur,
                "expected": Decimal(amount),
                "net": Decimal("0.00"),
                "difference": -Decimal(amount),
            }
            for i, (b, c, lc, cur, amount, age) in enumerate(rows, start=1)
        ],
        schema=BREAKS_SCHEMA,
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _totals(eur_breaks: int) -> list[dict]:
    return [
        {
            "currency": "EUR",
            "total_expected": "100.00",
            "total_net": "90.00",
            "break_amount": "10.00",
            "break_count": eur_breaks,
            "item_count": 10,
        },
        {
            "currency": "JPY",
            "total_expected": "5000.00",
            "total_net": "3800.00",
            "break_amount": "1200.00",
            "break_count": 1,
            "item_count": 3,
        },
        {
            "currency": "USD",
            "total_expected": "300.00",
            "total_net": "267.25",
            "break_amount": "32.75",
            "break_count": 2,
            "item_count": 20,
        },
    ]


def publish_run(store, run_id: str, as_of: datetime, manifest_fields: dict) -> None:
    artifacts = [
        Artifact("breaks.parquet", _breaks(as_of), "application/vnd.apache.parquet", 4),
        Artifact("summary.html", b"<html>summary</html>\n", "text/html; charset=utf-8"),
        Artifact("summary.json", b"{}\n", "application/json"),
    ]
    publish(
        store,
        run_id=run_id,
        as_of=as_of,
        artifacts=artifacts,
        manifest_fields={
            "verdict": "breaks",
            "counts": {"duplicate_charge": 2},
            "breaks": 4,
            **manifest_fields,
        },
        run_ended_at=as_of + timedelta(minutes=1),
        previous=latest_run(store),
    )


def populate(store) -> None:
    old_totals = {"total_expected": "5400.00", "total_net": "4157.25", "break_amount": "1242.75"}
    publish_run(store, "run-old", AS_OF - timedelta(days=2), {"totals": old_totals})
    publish_run(store, "run-mid", AS_OF - timedelta(days=1), {"totals_by_currency": _totals(2)})
    publish_run(store, "run-new", AS_OF, {"totals_by_currency": _totals(1)})


@pytest.fixture(scope="module")
def published_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("reader_home")
    populate(LocalReportStore(home / "object-store" / "finance-reports"))
    return home


@pytest.fixture
def reader_env(monkeypatch, published_home):
    for name in ("FINANCE_RECON_REPORTS_URI", "FINANCE_RECON_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINANCE_RECON_HOME", str(published_home))
    return published_home
