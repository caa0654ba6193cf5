"""The landing's change log (landing._changed_keys): what the incremental state re-classifies.

Driven through the platform's own `land`, on a throwaway DuckDB warehouse (no source server).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa

from finance_recon.contracts import PAYMENTS
from finance_recon.sources.landing import CHANGED_KEYS, ensure_landing, land

T = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _payment(payment_id: str, order_id: int | None, amount: str = "10.00", minute: int = 0) -> dict:
    stamp = T.replace(minute=minute)
    return {
        "payment_id": payment_id,
        "order_id": order_id,
        "provider": "stripe",
        "kind": "charge",
        "status": "succeeded",
        "currency": "EUR",
        "amount": Decimal(amount),
        "created_at": T,
        "updated_at": stamp,
    }


def _land(conn, tmp_path, rows: list[dict], *, full_refresh: bool) -> None:
    spill = tmp_path / "batch.arrows"
    with pa.OSFile(str(spill), "wb") as sink, pa.ipc.new_stream(sink, PAYMENTS.arrow_schema) as writer:
        writer.write_table(pa.Table.from_pylist(rows, schema=PAYMENTS.arrow_schema))
    land(
        conn,
        PAYMENTS,
        spill,
        full_refresh=full_refresh,
        source="test",
        run_id="r",
        read_since=None,
        watermark_before=None,
        started_at=T,
    )


def _log(conn) -> list[tuple]:
    return conn.execute(
        f"SELECT change_batch, order_id, payment_id, full_refresh FROM {CHANGED_KEYS} "
        "ORDER BY change_batch, order_id NULLS FIRST, payment_id"
    ).fetchall()


def test_the_change_log_names_old_and_new_keys_of_changed_versions_only(tmp_path):
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    conn.execute("CREATE SCHEMA IF NOT EXISTS landing")
    ensure_landing(conn, PAYMENTS)

    _land(conn, tmp_path, [_payment("p1", 1), _payment("p2", 3)], full_refresh=True)
    assert _log(conn) == [(1, None, None, True)]  # a replaced table: everything is dirty

    # p1 moves from order 1 to order 2; p2 is re-read unchanged (the look-back window); p3 is new.
    _land(
        conn,
        tmp_path,
        [_payment("p1", 2, minute=5), _payment("p2", 3), _payment("p3", None, "5.00", minute=6)],
        full_refresh=False,
    )
    assert _log(conn) == [
        (1, None, None, True),
        (2, None, "p3", False),
        (2, 1, "p1", False),  # the version it replaced still names order 1
        (2, 2, "p1", False),
    ]

    # Nothing changed at all: a batch number is used, but nothing is logged.
    _land(conn, tmp_path, [_payment("p2", 3)], full_refresh=False)
    assert [row for row in _log(conn) if row[0] > 2] == []
    assert conn.execute("SELECT count(*) FROM landing.payments").fetchone()[0] == 3
