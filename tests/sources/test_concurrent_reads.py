"""Issue 27 item 3: one step reads every source table at once (`source_batches`), each in its own
thread, with the failure taxonomy of one step per table: a table failing for good fails the run
naming it, a retry follows the reason's plan and says so per table, the warehouse has one writer."""

from __future__ import annotations

import threading

from dagster import AssetKey, DagsterEventType, DagsterInstance, RetryPolicy, materialize

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.seed import connect
from finance_recon.sources.assets import build_batch_assets
from finance_recon.sources.readers.duckdb import DuckDBReader

from .test_assets import closed_port, landing_counts, resources, seed_small, step_events

FAST_RETRY = RetryPolicy(max_retries=2, delay=0.05)


def batches():
    return build_batch_assets((ORDERS, PAYMENTS), retry_policy=FAST_RETRY)


def pending(warehouse) -> dict[str, int]:
    with warehouse.connection(read_only=True) as conn:
        return dict(
            conn.execute("SELECT source_table, rows_extracted FROM landing._pending_batches").fetchall()
        )


def test_both_tables_are_read_at_once_in_one_step(duckdb_url, tmp_path, warehouse, monkeypatch):
    payments_url = f"duckdb:///{tmp_path / 'payments.duckdb'}"
    seed_small(duckdb_url, payments_url)
    # Each read waits at a barrier for the other table's read: read one after the other, the first
    # would wait alone and time out.
    together = threading.Barrier(2, timeout=20)
    readers: set[str] = set()
    real_read = DuckDBReader.read

    def read_together(self, table, *args, **kwargs):
        readers.add(threading.current_thread().name)
        together.wait()
        yield from real_read(self, table, *args, **kwargs)

    monkeypatch.setattr(DuckDBReader, "read", read_together)
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [batches()], resources=resources(warehouse, duckdb_url, payments_url), instance=instance
    )
    assert result.success
    assert len(readers) == 2 and threading.current_thread().name not in readers
    assert {e.step_key for e in step_events(result, DagsterEventType.STEP_START)} == {"source_batches"}
    meta = {
        e.asset_key.path[0]: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert meta["orders_batch"]["rows_extracted"].value == 2
    assert meta["payments_batch"]["rows_extracted"].value == 1
    assert pending(warehouse) == {"orders": 2, "payments": 1}
    assert landing_counts(warehouse) == (0, 0, 0)  # staged only: landing waits for the checks
    # What the threads logged reaches the run's log, each line naming its table.
    messages = [r.user_message for r in instance.all_logs(result.run_id) if r.dagster_event is None]
    assert any(m.startswith("orders: staged 2 orders rows") for m in messages), messages
    assert any(m.startswith("payments: staged 1 payments rows") for m in messages), messages


def test_a_table_failing_for_good_fails_the_run_naming_it_and_the_other_is_still_staged(
    duckdb_url, tmp_path, warehouse
):
    payments_url = f"duckdb:///{tmp_path / 'payments.duckdb'}"
    seed_small(duckdb_url, payments_url)
    with connect(duckdb_url) as conn:  # orders drifted from its contract: permanent, never retried
        conn.execute("DROP TABLE orders")
        conn.execute("CREATE TABLE orders (order_id BIGINT, updated_at TIMESTAMPTZ)")
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [batches()],
        resources=resources(warehouse, duckdb_url, payments_url),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    assert step_events(result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    (failure,) = step_events(result, DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.user_failure_data.description
    assert failure.step_key == "source_batches" and "\n" not in message
    assert message.startswith("orders: ") and "table orders is missing column customer_id" in message, message
    assert "payments" not in message
    # payments was read: staged (it lands only once its check passes) and materialized; nothing of
    # orders is.
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [AssetKey("payments_batch")]
    assert pending(warehouse) == {"payments": 1}
    assert landing_counts(warehouse) == (0, 0, 0)


def test_a_refused_table_is_retried_by_its_plan_naming_it_and_the_step_reads_both_again(
    duckdb_url, tmp_path, warehouse, monkeypatch
):
    payments_url = f"duckdb:///{tmp_path / 'payments.duckdb'}"
    seed_small(duckdb_url, payments_url)
    refused = f"mysql+pymysql://root:pw-secret@127.0.0.1:{closed_port()}/oltp"
    reads: list[str] = []
    real_read = DuckDBReader.read

    def counted(self, table, *args, **kwargs):
        reads.append(table.asset_name)
        yield from real_read(self, table, *args, **kwargs)

    monkeypatch.setattr(DuckDBReader, "read", counted)
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [batches()],
        resources=resources(warehouse, refused, payments_url),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    # Refused on loopback: one brief retry, for the table that was refused, saying so.
    (retry,) = step_events(result, DagsterEventType.STEP_UP_FOR_RETRY)
    cause = retry.event_specific_data.error.cause.message
    assert "orders: connection refused — attempt 2 of 2 at " in cause and "payments" not in cause, cause
    (failure,) = step_events(result, DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("orders: source mysql+pymysql://root:***@127.0.0.1:"), message
    assert "connection refused, after 2 attempts (refused on this machine" in message, message
    # The retry reads payments again (idempotent: it replaces its staged batch); the run says so.
    assert reads == ["payments", "payments"]
    assert pending(warehouse) == {"payments": 1}
    messages = [r.user_message for r in instance.all_logs(result.run_id) if r.dagster_event is None]
    assert any("attempt 2 reads every table of the step again" in m for m in messages), messages
    assert not any("pw-secret" in m for m in messages)


def test_a_ui_materialization_of_one_batch_reads_only_that_table(duckdb_url, tmp_path, warehouse):
    seed_small(duckdb_url, f"duckdb:///{tmp_path / 'payments.duckdb'}")
    unreachable = f"postgresql://postgres@127.0.0.1:{closed_port()}/shop"  # would fail if read
    result = materialize(
        [batches()],
        selection=[AssetKey("orders_batch")],
        resources=resources(warehouse, duckdb_url, unreachable),
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [AssetKey("orders_batch")]
    assert pending(warehouse) == {"orders": 2}
