"""The contract suites on small landed batches: every row below has one reason to be there.

No source server is needed: the batch table is written directly, as `landing.land` would.
GX is imported once per validation (a few seconds), so each test validates one batch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.engines.embedded import EmbeddedWarehouse
from finance_recon.quality.checks import validate_source_batch
from finance_recon.sources.landing import batch_table, ensure_landing

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(hours=2)


@pytest.fixture
def warehouse(tmp_path) -> EmbeddedWarehouse:
    return EmbeddedWarehouse(path=str(tmp_path / "warehouse.duckdb"))


def land_batch(warehouse: EmbeddedWarehouse, table, rows: list[tuple]) -> None:
    with warehouse.connection() as conn:
        ensure_landing(conn, table)
        conn.execute(f"DELETE FROM {batch_table(table)}")
        if rows:
            marks = ", ".join(["?"] * len(table.columns))
            conn.executemany(f"INSERT INTO {batch_table(table)} VALUES ({marks})", rows)


def failures(result) -> dict[tuple[str | None, str], dict]:
    return {(f["column"], f["rule"]): f for f in result.metadata["failed_expectations"].value}


def order(order_id, *, status="paid", currency="USD", amount="10.00", created=T0, updated=None):
    return (
        order_id,
        1000 + order_id,
        status,
        currency,
        amount,
        created,
        updated or created + timedelta(minutes=1),
    )


def payment(
    payment_id,
    *,
    order_id=1,
    kind="charge",
    status="succeeded",
    currency="USD",
    amount="10.00",
    created=T0,
    updated=None,
):
    return (
        payment_id,
        order_id,
        "stripe",
        kind,
        status,
        currency,
        amount,
        created,
        updated or created + timedelta(minutes=1),
    )


def test_clean_orders_batch_passes(warehouse):
    land_batch(
        warehouse, ORDERS, [order(1), order(2, status="pending", amount="0.00"), order(3, currency="EUR")]
    )
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert result.passed, result.description
    assert result.severity.value == "ERROR"
    assert result.metadata["rows_validated"].value == 3
    assert result.metadata["expectations_failed"].value == 0


def test_empty_batch_passes(warehouse):
    land_batch(warehouse, ORDERS, [])
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert result.passed, result.description


def test_bad_orders_are_named_by_column_and_rule(warehouse):
    land_batch(
        warehouse,
        ORDERS,
        [
            order(1),  # the good one
            order(2, currency="usd"),  # lower-case currency
            order(3, currency="XYZ"),  # not an ISO 4217 code
            order(4, amount="-5.00"),  # negative total
            order(5, status="lost"),  # not an accepted status
            order(6, created=NOW + timedelta(hours=1)),  # from the future (beyond the 5-min skew)
            order(7, created=T0, updated=T0 - timedelta(minutes=3)),  # updated before created
            order(1, status="shipped"),  # a second row for order_id 1
        ],
    )
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert not result.passed
    failed = failures(result)
    lower = failed[("currency", "ISO 4217 currency, 3 upper-case letters")]
    assert lower["unexpected_count"] == 1 and lower["sample_values"] == ["usd"]
    assert failed[("currency", "ISO 4217 currency, a known code")]["sample_values"] == ["usd", "XYZ"]
    assert failed[("total_amount", "amount ≥ 0")]["sample_values"] == ["-5.00"]
    assert failed[("status", "accepted values pending, paid, shipped, delivered, cancelled, refunded")][
        "sample_values"
    ] == ["lost"]
    future = [k for k in failed if k[0] == "created_at" and k[1].startswith("not in the future")]
    assert future and failed[future[0]]["unexpected_count"] == 1
    assert failed[("updated_at", "created_at ≤ updated_at")]["unexpected_count"] == 1
    unique = failed[("order_id", "unique primary key")]
    assert unique["unexpected_count"] == 2 and unique["sample_values"] == [1]
    # The message an operator reads names table, column and rule.
    assert "orders.currency violates 'ISO 4217 currency, 3 upper-case letters': 1 unexpected, e.g. 'usd'" in (
        result.description
    )
    assert "orders.order_id violates 'unique primary key'" in result.description
    assert "currency" in result.metadata["failed_columns"].value


def test_payments_rules(warehouse):
    land_batch(
        warehouse,
        PAYMENTS,
        [
            payment("p1"),  # good
            payment("p2", order_id=None),  # an order_id may be NULL (contracts §1)
            payment("p3", amount="0.00"),  # amounts are > 0: the sign comes from kind
            payment("p4", kind="reversal"),  # not an accepted kind
            payment("p5", status="settled"),  # not an accepted status
        ],
    )
    result = validate_source_batch(PAYMENTS, warehouse, None, now=NOW)
    failed = failures(result)
    assert set(failed) == {
        ("amount", "amount > 0 (the sign comes from kind)"),
        ("kind", "accepted values charge, refund, chargeback"),
        ("status", "accepted values pending, succeeded, failed"),
    }, failed
    assert failed[("amount", "amount > 0 (the sign comes from kind)")]["sample_values"] == ["0.00"]


def test_not_null_and_types_on_a_frame():
    """The landing DDL already refuses NULLs, so the not-null/type rules are shown on a frame."""
    import pandas as pd

    from finance_recon.quality.gx_runner import run_suite
    from finance_recon.quality.suites import source_suite

    frame = pd.DataFrame(
        {
            "order_id": pd.array([1, 2], dtype="Int64"),
            "customer_id": pd.array([10, None], dtype="Int64"),  # NULL customer
            "status": ["paid", "paid"],
            "currency": ["USD", "USD"],
            "total_amount": [1.5, 2.0],  # floats, not DECIMAL
            "created_at": pd.to_datetime([T0, T0], utc=True),
            "updated_at": pd.to_datetime([T0, T0], utc=True),
        }
    )
    outcome = run_suite(source_suite(ORDERS, NOW), [frame])
    labels = {r.rule.label for r in outcome.failed}
    assert labels == {"customer_id: not null", "total_amount: type DECIMAL(18,2)"}, labels


def test_duplicates_split_across_chunks_are_still_found(tmp_path, warehouse):
    """Chunks are cut by hash(primary key): both rows of a duplicate fall in the same chunk."""
    from finance_recon.quality.batches import batch_for_check, frames
    from finance_recon.quality.gx_runner import run_suite
    from finance_recon.quality.suites import source_suite

    land_batch(warehouse, ORDERS, [order(i) for i in range(1, 40)] + [order(17, status="shipped")])
    with batch_for_check(warehouse, ORDERS, chunk_rows=5) as (data, rows, _full_read, *_):
        chunks = list(frames(data, rows, "order_id", chunk_rows=5))
        assert len(chunks) == 8 and sum(len(c) for c in chunks) == 40
        outcome = run_suite(source_suite(ORDERS, NOW), chunks)
    [dup] = outcome.failed
    assert dup.rule.rule == "unique primary key" and dup.unexpected_count == 2 and dup.samples == [17]


def test_a_batch_that_fits_one_chunk_is_read_in_memory_and_still_splits_by_key(tmp_path, warehouse):
    """Up to a chunk's worth, the batch comes from the warehouse as Arrow (no Parquet copy); split
    smaller anyway, it is cut by hash(primary key) like a spilled one."""
    import pyarrow as pa

    from finance_recon.quality.batches import batch_for_check, frames
    from finance_recon.quality.gx_runner import run_suite
    from finance_recon.quality.suites import source_suite

    land_batch(warehouse, ORDERS, [order(i) for i in range(1, 40)] + [order(17, status="shipped")])
    with batch_for_check(warehouse, ORDERS) as (data, rows, _full_read, *_):
        assert isinstance(data, pa.Table) and rows == 40 == data.num_rows
        chunks = list(frames(data, rows, "order_id", chunk_rows=5))
    assert len(chunks) == 8 and sum(len(c) for c in chunks) == 40
    [dup] = run_suite(source_suite(ORDERS, NOW), chunks).failed
    assert dup.rule.rule == "unique primary key" and dup.unexpected_count == 2 and dup.samples == [17]


def test_a_spilled_chunk_no_key_hashed_to_still_yields_a_frame(tmp_path, warehouse):
    """Spilled in one pass partitioned by chunk: a chunk with no row has no folder, and is an empty
    frame with the batch's columns (GX then validates the chunks that have rows)."""
    import duckdb

    from finance_recon.quality.batches import batch_for_check, frames
    from finance_recon.quality.gx_runner import run_suite
    from finance_recon.quality.suites import source_suite

    same_chunk = [
        i
        for (i,) in duckdb.connect()
        .execute("SELECT i FROM range(1, 200) t(i) WHERE hash(i) % 2 = 0")
        .fetchall()
    ][:2]
    land_batch(warehouse, ORDERS, [order(i) for i in same_chunk])
    with batch_for_check(warehouse, ORDERS, chunk_rows=1) as (data, rows, _full_read, *_):
        assert rows == 2 and not (data / "_finance_recon_chunk=1").exists()
        chunks = list(frames(data, rows, "order_id", chunk_rows=1))
    assert [len(c) for c in chunks] == [2, 0]
    assert list(chunks[1].columns) == list(chunks[0].columns) == list(ORDERS.column_names)
    assert run_suite(source_suite(ORDERS, NOW), chunks).success


def _log_batch(warehouse: EmbeddedWarehouse, table, read_since) -> None:
    """The batch's entry in landing._extract_batches, as `landing.land` writes it."""
    from finance_recon.sources.landing import BATCH_LOG

    with warehouse.connection() as conn:
        conn.execute(
            f"INSERT INTO {BATCH_LOG} VALUES ('r1', ?, 'src', ?, ?, 1, 1, NULL, NULL, now(), now())",
            [table.asset_name, "incremental" if read_since else "full_refresh", read_since],
        )


@pytest.fixture
def source_with_duplicate(tmp_path) -> str:
    """A DuckDB source whose orders table lost its primary key: order 1 is there twice."""
    import duckdb

    path = tmp_path / "oltp.duckdb"
    conn = duckdb.connect(str(path))
    try:
        conn.execute(
            "CREATE TABLE orders (order_id BIGINT, customer_id BIGINT, status VARCHAR, currency VARCHAR, "
            "total_amount DECIMAL(18,2), created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ)"
        )
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)", [order(1), order(1), order(2)])
    finally:
        conn.close()
    return f"duckdb:///{path}"


def test_an_incremental_batch_is_probed_in_the_source(warehouse, source_with_duplicate):
    """Only the newer row of order 1 is in the incremental batch: the source probe sees the duplicate."""
    land_batch(warehouse, ORDERS, [order(1)])
    _log_batch(warehouse, ORDERS, T0)
    result = validate_source_batch(ORDERS, warehouse, source_with_duplicate, now=NOW)
    assert not result.passed
    probe = failures(result)[("order_id", "unique primary key (in the source table)")]
    assert probe["unexpected_count"] == 1 and probe["sample_values"] == [1]
    assert result.metadata["source_keys_probed"].value == 1


def test_a_full_read_is_not_probed_and_its_uniqueness_rule_sees_the_duplicate(
    warehouse, source_with_duplicate
):
    """A full read holds both rows of order 1: GX's uniqueness rule on the batch fails, no probe needed."""
    land_batch(warehouse, ORDERS, [order(1), order(1), order(2)])
    _log_batch(warehouse, ORDERS, None)
    result = validate_source_batch(ORDERS, warehouse, source_with_duplicate, now=NOW)
    assert not result.passed
    failed = failures(result)
    assert failed[("order_id", "unique primary key")]["unexpected_count"] == 2
    assert ("order_id", "unique primary key (in the source table)") not in failed
    assert result.metadata["source_keys_probed"].value == 0
    assert result.metadata["source_probe"].value.startswith("skipped: a full read")


def test_a_batch_without_a_log_entry_is_probed(warehouse, source_with_duplicate):
    """No entry in the batch log (not landed by `land`): not known to be a full read, so probed."""
    land_batch(warehouse, ORDERS, [order(2)])
    result = validate_source_batch(ORDERS, warehouse, source_with_duplicate, now=NOW)
    assert result.passed, result.description
    assert result.metadata["source_keys_probed"].value == 1


def _promote_landed(warehouse: EmbeddedWarehouse, table, rows: list[tuple]) -> None:
    """`rows` as landed (checked and promoted) versions of `table`."""
    from finance_recon.sources.landing import landing_table

    with warehouse.connection() as conn:
        ensure_landing(conn, table)
        marks = ", ".join(["?"] * len(table.columns))
        conn.executemany(f"INSERT INTO {landing_table(table)} VALUES ({marks})", rows)


def test_an_incremental_batch_checks_only_versions_not_landed_yet(warehouse):
    """Re-read rows identical to their landed (already checked) version are not validated again; a
    batch of nothing but such rows validates nothing (GX is not run)."""
    _promote_landed(
        warehouse, ORDERS, [order(1), order(2, amount="-5.00")]
    )  # landed before the rule tightened
    land_batch(warehouse, ORDERS, [order(1), order(2, amount="-5.00"), order(3)])
    _log_batch(warehouse, ORDERS, T0)
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert result.passed, result.description
    assert result.metadata["rows_validated"].value == 1  # order 3 only

    land_batch(warehouse, ORDERS, [order(1), order(2, amount="-5.00"), order(3, amount="-1.00")])
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert not result.passed and result.metadata["rows_validated"].value == 1
    assert result.metadata["failed_columns"].value == "total_amount"

    land_batch(warehouse, ORDERS, [order(1)])
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert result.passed and result.metadata["rows_validated"].value == 0
    assert result.metadata["expectations_evaluated"].value == 0  # no GX validation ran


def test_the_check_describes_the_batch_it_staged_not_an_empty_one(warehouse):
    """Issue 25: a run staged 418 orders rows, all re-read in the look-back window unchanged, and the
    check's latest result read "empty batch, 0 rows validated (nothing was extracted)". It says what
    was staged and why none of it needed validating; a partly new batch says how many were skipped."""
    landed = [order(i) for i in range(1, 419)]
    _promote_landed(warehouse, ORDERS, landed)
    land_batch(warehouse, ORDERS, landed)
    _log_batch(warehouse, ORDERS, T0)
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert result.passed and result.metadata["rows_validated"].value == 0
    assert result.metadata["rows_staged"].value == 418
    assert result.metadata["rows_already_landed"].value == 418
    assert "empty batch" not in result.description and "nothing was extracted" not in result.description
    assert result.description.startswith("orders: 0 new row versions to validate"), result.description
    assert "of the 418 rows this run staged, 0 validated: 418 re-read in the look-back window" in (
        result.description
    )

    land_batch(warehouse, ORDERS, [*landed[:400], order(500), order(501)])
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert result.passed and result.metadata["rows_validated"].value == 2
    assert result.description.startswith("orders: "), result.description
    assert (
        "passed on 2 rows — of the 402 rows this run staged, 2 validated: 400 re-read" in result.description
    )

    land_batch(warehouse, ORDERS, [])
    result = validate_source_batch(ORDERS, warehouse, None, now=NOW)
    assert result.metadata["rows_staged"].value == 0
    assert "empty batch, 0 rows validated" in result.description  # truly nothing extracted


def test_a_duplicate_whose_twin_is_landed_is_still_found_in_the_source(warehouse, source_with_duplicate):
    """The source holds order 1 twice; one copy is the landed version (skipped by the batch check),
    the other is new: its key is looked up in the source, which has it twice."""
    _promote_landed(warehouse, ORDERS, [order(1)])
    land_batch(warehouse, ORDERS, [order(1), order(1, status="shipped")])
    _log_batch(warehouse, ORDERS, T0)
    result = validate_source_batch(ORDERS, warehouse, source_with_duplicate, now=NOW)
    assert not result.passed
    assert ("order_id", "unique primary key (in the source table)") in failures(result)
