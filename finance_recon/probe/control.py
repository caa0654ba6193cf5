"""The probe's cycle register in the warehouse: which run wrote which probe items, and what failed.

    control.probe_items   one row per probe item: run_id, cycle, probe, order_id, payment_id,
                          currency, amounts, expected_category
    control.probe_errors  one row per refused write: run_id, source, message

A run claims its cycle once (the next number after the highest claimed), in one transaction, the
first time either extraction step asks; a retried step or a second step of the same run gets the
same cycle and the same items back, so the writes are idempotent on rerun. The report step reads
both tables for its run (finance_recon/probe/evaluate.py).
"""

from __future__ import annotations

from decimal import Decimal

from finance_recon.probe.plan import ProbeItem, plan_cycle
from finance_recon.sources.landing import sql_literal

PROBE_ITEMS_TABLE = "control.probe_items"
PROBE_ERRORS_TABLE = "control.probe_errors"

_COLUMNS = (
    "cycle",
    "probe",
    "order_id",
    "payment_id",
    "currency",
    "order_amount",
    "payment_amount",
    "expected_category",
)


def ensure_tables(conn) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS control")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {PROBE_ITEMS_TABLE} (run_id VARCHAR NOT NULL, cycle BIGINT NOT NULL, "
        "probe VARCHAR NOT NULL, order_id BIGINT NOT NULL, payment_id VARCHAR NOT NULL, "
        "currency VARCHAR NOT NULL, order_amount DECIMAL(18, 2) NOT NULL, "
        "payment_amount DECIMAL(18, 2) NOT NULL, expected_category VARCHAR NOT NULL, "
        "claimed_at TIMESTAMPTZ NOT NULL)"
    )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {PROBE_ERRORS_TABLE} (run_id VARCHAR NOT NULL, source VARCHAR NOT NULL, "
        "message VARCHAR NOT NULL, recorded_at TIMESTAMPTZ NOT NULL)"
    )


def _items(conn, run_id: str) -> list[ProbeItem]:
    rows = conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM {PROBE_ITEMS_TABLE} WHERE run_id = {sql_literal(run_id)} "
        "ORDER BY order_id"
    ).fetchall()
    return [ProbeItem(**dict(zip(_COLUMNS, row, strict=True))) for row in rows]


def claim_cycle(conn, run_id: str, *, unmatched_every: int, tolerance: Decimal) -> list[ProbeItem]:
    """This run's probe items: claimed now (next cycle) or, when already claimed, as claimed then."""
    ensure_tables(conn)
    conn.execute("BEGIN TRANSACTION")
    try:
        items = _items(conn, run_id)
        if not items:
            (last,) = conn.execute(f"SELECT coalesce(max(cycle), 0) FROM {PROBE_ITEMS_TABLE}").fetchone()
            items = plan_cycle(int(last) + 1, unmatched_every=unmatched_every, tolerance=tolerance)
            for item in items:
                values = ", ".join(sql_literal(getattr(item, c)) for c in _COLUMNS)
                conn.execute(
                    f"INSERT INTO {PROBE_ITEMS_TABLE} VALUES ({sql_literal(run_id)}, {values}, now())"
                )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return items


def record_error(conn, run_id: str, source: str, message: str) -> None:
    ensure_tables(conn)
    conn.execute(
        f"INSERT INTO {PROBE_ERRORS_TABLE} VALUES ({sql_literal(run_id)}, {sql_literal(source)}, "
        f"{sql_literal(message)}, now())"
    )


def run_probe(conn, run_id: str) -> tuple[list[ProbeItem], list[dict[str, str]]]:
    """This run's probe items and refused writes; ([], []) when the prober did not run."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'control' "
        "AND table_name = 'probe_items'"
    ).fetchone()[0]
    if not exists:
        return [], []
    errors = conn.execute(
        f"SELECT source, message FROM {PROBE_ERRORS_TABLE} WHERE run_id = {sql_literal(run_id)} "
        "ORDER BY recorded_at, source"
    ).fetchall()
    return _items(conn, run_id), [{"source": s, "message": m} for s, m in errors]
