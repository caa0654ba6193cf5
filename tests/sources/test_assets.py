"""The Dagster face: asset specs, metadata, retries, one-line failures, nothing landed, no password leaks."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from dagster import DagsterEventType, DagsterInstance, EnvVar, RetryPolicy, materialize

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.seed import load_table
from finance_recon.sources import extract as extract_module
from finance_recon.sources.assets import build_batch_asset, build_landed_asset
from finance_recon.sources.errors import SourceUnavailableError
from finance_recon.sources.extract import extract_table
from finance_recon.sources.resources import SourceDatabaseResource

from .conftest import T0, orders_table, payments_table

FAST_RETRY = RetryPolicy(max_retries=2, delay=0.05)
# The batches a run reads and stages, and the landed tables they are merged into once checked.
orders_batch, payments_batch = build_batch_asset(ORDERS), build_batch_asset(PAYMENTS)
orders, payments = build_landed_asset(ORDERS), build_landed_asset(PAYMENTS)


def fast_assets():
    return [
        build_batch_asset(ORDERS, retry_policy=FAST_RETRY),
        build_batch_asset(PAYMENTS, retry_policy=FAST_RETRY),
    ]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resources(warehouse, orders_url, payments_url):
    return {
        "warehouse": warehouse,
        "orders_source": SourceDatabaseResource(url=orders_url),
        "payments_source": SourceDatabaseResource(url=payments_url),
    }


def seed_small(orders_url, payments_url):
    load_table(
        ORDERS,
        orders_table([(1, "paid", "0.10", T0), (2, "paid", "0.20", T0 + timedelta(seconds=1))]),
        orders_url,
    )
    load_table(PAYMENTS, payments_table([("p1", 1, "charge", "succeeded", "0.10", T0)]), payments_url)


def all_text(instance: DagsterInstance, run_id: str) -> str:
    """Everything Dagster stored about a run: every event (messages, metadata, errors) and the run record."""
    from dagster_shared.serdes import serialize_value

    parts = [serialize_value(record) for record in instance.all_logs(run_id)]
    parts.append(serialize_value(instance.get_run_by_id(run_id)))
    return "\n".join(parts)


def landing_counts(warehouse) -> tuple[int, int, int]:
    with warehouse.connection(read_only=True) as conn:
        present = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return tuple(
            conn.execute(f"SELECT count(*) FROM landing.{t}").fetchone()[0] if t in present else 0
            for t in ("orders", "payments", "_watermarks")
        )


def promote_checked(warehouse) -> None:
    from finance_recon.contracts import SOURCE_TABLES
    from finance_recon.sources.landing import mark_checked, promote

    with warehouse.connection() as conn:
        assert promote(conn, SOURCE_TABLES) == {}  # not checked yet: nothing is promoted
        for table in SOURCE_TABLES:
            mark_checked(conn, table)
        promote(conn, SOURCE_TABLES)


def test_asset_specs_are_stable():
    specs = {}
    for a in (orders_batch, orders, payments_batch, payments):
        spec = a.specs_by_key[a.key]
        specs[a.key.to_user_string()] = (
            tuple(spec.owners),
            tuple(sorted(spec.kinds)),
            tuple(sorted(a.required_resource_keys - {"io_manager"})),
            a.op.retry_policy is not None,
            tuple(dep.asset_key.to_user_string() for dep in spec.deps),
            bool(spec.description),
        )
    owners = ("team:data-platform",)
    assert specs == {
        "orders_batch": (owners, ("duckdb", "mysql"), ("orders_source", "warehouse"), True, (), True),
        "orders": (owners, ("duckdb",), ("warehouse",), False, ("orders_batch",), True),
        "payments_batch": (owners, ("duckdb", "postgres"), ("payments_source", "warehouse"), True, (), True),
        "payments": (owners, ("duckdb",), ("warehouse",), False, ("payments_batch",), True),
    }


def test_the_landed_table_merges_only_a_batch_that_passed_its_contract_check(duckdb_url, tmp_path, warehouse):
    from finance_recon.engines.embedded import EmbeddedWarehouse
    from finance_recon.sources.landing import mark_checked

    payments_url = f"duckdb:///{tmp_path / 'payments.duckdb'}"
    seed_small(duckdb_url, payments_url)
    res = resources(EmbeddedWarehouse(path=warehouse.path), duckdb_url, payments_url)
    instance = DagsterInstance.ephemeral()
    assert materialize([orders_batch], resources=res, instance=instance).success
    # Asked to land a batch whose check never passed (a UI materialization of `orders` alone, say):
    # it refuses, naming the check, and lands nothing.
    refused = materialize([orders], resources=res, instance=instance, raise_on_error=False)
    assert not refused.success
    [failure] = [e for e in refused.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert "has not passed `orders_batch:contract`" in message and "finance-recon accept orders" in message
    assert landing_counts(warehouse) == (0, 0, 0)
    with warehouse.connection() as conn:
        mark_checked(conn, ORDERS)
    landed = materialize([orders], resources=res, instance=instance)
    [event] = landed.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["rows_merged"] == 2 and metadata["rows_total"] == 2
    assert metadata["watermark_after"] == (T0 + timedelta(seconds=1)).isoformat()
    assert landing_counts(warehouse)[0] == 2
    # Nothing staged any more: landing it again changes nothing and says so.
    again = materialize([orders], resources=res, instance=instance)
    [event] = again.get_asset_materialization_events()
    assert event.materialization.metadata["merged"].value == "nothing staged"
    assert landing_counts(warehouse)[0] == 2


def test_materialize_reports_metadata_and_is_incremental(duckdb_url, tmp_path, warehouse):
    payments_url = f"duckdb:///{tmp_path / 'payments.duckdb'}"
    seed_small(duckdb_url, payments_url)
    res = resources(warehouse, duckdb_url, payments_url)
    instance = DagsterInstance.ephemeral()
    first = materialize([orders_batch, payments_batch], resources=res, instance=instance)
    # The batch assets only stage (quarantine): nothing is landed until the checked batch is
    # merged, which the landed assets do once the contract checks passed.
    assert landing_counts(warehouse) == (0, 0, 0)
    promote_checked(warehouse)
    assert landing_counts(warehouse) == (2, 1, 2)
    second = materialize(
        [orders_batch, payments_batch],
        resources=res,
        instance=instance,
        run_config={"ops": {"orders_batch": {"config": {"full_refresh": True}}}},
    )
    meta = {
        (r.run_id, e.asset_key.path[0]): {k: v.value for k, v in e.materialization.metadata.items()}
        for r in (first, second)
        for e in r.get_asset_materialization_events()
    }
    o1, o2 = meta[(first.run_id, "orders_batch")], meta[(second.run_id, "orders_batch")]
    assert o1["rows_extracted"] == 2 and o1["rows_total"] == 2
    assert o1["max_updated_at"] == (T0 + timedelta(seconds=1)).isoformat()
    assert o1["watermark_before"] == "" and o1["watermark_after"] == o1["max_updated_at"]
    assert o1["source"] == duckdb_url and o1["batch_table"] == "landing.orders__last_batch"
    assert o2["mode"] == "full_refresh" and o2["mode_reason"] == "requested"
    assert meta[(second.run_id, "payments_batch")]["mode"] == "incremental"
    assert {"duration_s", "rows_per_s", "read_since"} <= set(o2)


def step_events(result, event_type):
    return [e for e in result.all_events if e.event_type == event_type]


@pytest.mark.parametrize("engine", ["mysql", "postgresql"])
def test_stopped_source_is_retried_then_fails_with_one_line_and_lands_nothing(
    engine, warehouse, tmp_path, request
):
    port = closed_port()
    url = (
        f"mysql+pymysql://root:pw-secret@127.0.0.1:{port}/oltp"
        if engine == "mysql"
        else f"postgresql://postgres:pw-secret@127.0.0.1:{port}/shop"
    )
    asset = fast_assets()[0]
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [asset], resources=resources(warehouse, url, url), instance=instance, raise_on_error=False
    )
    assert not result.success
    # Connection refused on loopback (issue 25): nothing listens there; one brief retry, not three.
    (retry,) = step_events(result, DagsterEventType.STEP_UP_FOR_RETRY)
    assert "connection refused — attempt 2 of 2 at " in retry.event_specific_data.error.cause.message
    (failure,) = step_events(result, DagsterEventType.STEP_FAILURE)
    # After the last retry Dagster's error says "Exceeded max_retries"; our line is the failure's description.
    message = failure.step_failure_data.user_failure_data.description
    assert "\n" not in message
    assert f"is unavailable (host 127.0.0.1:{port}" in message
    assert "connection refused, after 2 attempts (refused on this machine" in message, message
    assert "pw-secret" not in all_text(instance, result.run_id)
    assert landing_counts(warehouse) == (0, 0, 0)


def test_wrong_password_fails_at_once_and_is_never_logged(mysql_url, mysql_user, warehouse, capfd, caplog):
    user, password = mysql_user
    good = mysql_url.replace("root@", f"{user}:{password}@")
    seed_small(good, good)
    wrong_password = password + "-wrong"
    bad = mysql_url.replace("root@", f"{user}:{wrong_password}@")
    instance = DagsterInstance.ephemeral()
    result = materialize(
        fast_assets(), resources=resources(warehouse, bad, bad), instance=instance, raise_on_error=False
    )
    assert not result.success
    # A refused login is permanent (issue 12): no retry, one line naming what to fix.
    assert step_events(result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    messages = [
        f.step_failure_data.user_failure_data.description
        for f in step_events(result, DagsterEventType.STEP_FAILURE)
    ]
    assert len(messages) == 2, messages
    assert all(
        "Access denied" in m and f"{user}:***@" in m and "refused the connection" in m for m in messages
    )
    assert landing_counts(warehouse) == (0, 0, 0)

    ok = materialize(fast_assets(), resources=resources(warehouse, good, good), instance=instance)
    assert ok.success
    captured = capfd.readouterr()
    logs = "\n".join(
        [
            all_text(instance, result.run_id),
            all_text(instance, ok.run_id),
            captured.out,
            captured.err,
            caplog.text,
        ]
    )
    assert user in logs  # the check below is meaningful: the runs were logged
    assert password not in logs and wrong_password not in logs


def test_postgres_password_never_logged_env_var(pg_url, pg_role, warehouse, capfd, caplog, monkeypatch):
    role, password = pg_role
    url = pg_url.replace("postgres@", f"{role}:{password}@")
    seed_small(url, url)
    monkeypatch.setenv("TEST_FINANCE_RECON_PAYMENTS_URL", url)
    instance = DagsterInstance.ephemeral()
    res = {
        "warehouse": warehouse,
        "orders_source": SourceDatabaseResource(url=url),  # a plain string must be safe too
        "payments_source": SourceDatabaseResource(url=EnvVar("TEST_FINANCE_RECON_PAYMENTS_URL")),
    }
    result = materialize(fast_assets(), resources=res, instance=instance)
    assert result.success
    meta = {
        e.asset_key.path[0]: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert meta["payments_batch"]["source"].value == url.replace(password, "***")
    captured = capfd.readouterr()
    logs = "\n".join([all_text(instance, result.run_id), captured.out, captured.err, caplog.text])
    assert role in logs and password not in logs


def test_contract_violation_is_not_retried(duckdb_url, warehouse):
    from finance_recon.demo.seed import connect

    with connect(duckdb_url) as conn:
        conn.execute("CREATE TABLE orders (order_id BIGINT, updated_at TIMESTAMPTZ)")
    instance = DagsterInstance.ephemeral()
    result = materialize(
        fast_assets()[:1],
        resources=resources(warehouse, duckdb_url, duckdb_url),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    assert step_events(result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    (failure,) = step_events(result, DagsterEventType.STEP_FAILURE)
    assert (
        "table orders is missing column customer_id (expected BIGINT)"
        in failure.step_failure_data.user_failure_data.description
    )


def test_failure_mid_stream_lands_nothing(duckdb_url, warehouse, monkeypatch):
    load_table(ORDERS, orders_table([(i, "paid", "1.00", T0) for i in range(1, 6)]), duckdb_url)
    extract_table(ORDERS, duckdb_url, warehouse, promote_now=True)
    before = landing_counts(warehouse)
    with warehouse.connection(read_only=True) as conn:
        landed_before = conn.execute("SELECT * FROM landing.orders ORDER BY 1").fetchall()
        marks_before = conn.execute("SELECT * FROM landing._watermarks").fetchall()

    from finance_recon.sources.readers.duckdb import DuckDBReader

    real_read = DuckDBReader.read

    def dying_read(self, *args, **kwargs):
        for i, batch in enumerate(real_read(self, *args, **kwargs)):
            if i == 1:
                raise SourceUnavailableError("source went away mid-stream")
            yield batch

    monkeypatch.setattr(DuckDBReader, "read", dying_read)
    from finance_recon.demo.seed import connect

    with connect(duckdb_url) as conn:
        conn.execute("UPDATE orders SET status = 'refunded', updated_at = ?", [T0 + timedelta(minutes=1)])
    with pytest.raises(SourceUnavailableError):
        extract_module.extract_table(
            ORDERS, duckdb_url, warehouse, batch_rows=2, full_refresh=True, promote_now=True
        )
    assert landing_counts(warehouse) == before
    with warehouse.connection(read_only=True) as conn:
        assert conn.execute("SELECT * FROM landing.orders ORDER BY 1").fetchall() == landed_before
        assert conn.execute("SELECT * FROM landing._watermarks").fetchall() == marks_before


def test_unknown_postgres_role_fails_at_once_naming_what_to_fix(pg_url, mysql_url, warehouse):
    seed_small(mysql_url, pg_url)
    unknown = pg_url.replace("postgres@", "fr_no_such_role:pw-unknown-7781@")
    instance = DagsterInstance.ephemeral()
    result = materialize(
        fast_assets(),
        resources=resources(warehouse, mysql_url, unknown),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    assert step_events(result, DagsterEventType.STEP_UP_FOR_RETRY) == []  # permanent: no retry
    (failure,) = step_events(result, DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.user_failure_data.description
    assert failure.step_key == "payments_batch"
    assert "refused the connection" in message and "fr_no_such_role" in message, message
    assert "check the user, password and database" in message
    assert "pw-unknown-7781" not in message


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (
            RuntimeError(
                "(2003, \"Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)\")"
            ),
            "connection refused",
        ),
        (
            RuntimeError('connection to server at "127.0.0.1", port 1 failed: Connection refused'),
            "connection refused",
        ),
        (
            RuntimeError('could not translate host name "db.nowhere" to address: Name or service not known'),
            "host name not resolved",
        ),
        (TimeoutError("timed out"), "timeout"),
        (RuntimeError("server closed the connection unexpectedly"), "unavailable"),
    ],
)
def test_unavailability_has_a_reason_and_a_retry_plan_to_match(error, reason):
    from finance_recon.sources.errors import retry_plan, unavailable_reason

    assert unavailable_reason(error) == reason
    loopback, remote = retry_plan(reason, "127.0.0.1"), retry_plan(reason, "db.internal")
    if reason == "connection refused":  # nothing listens on this machine's port: one brief retry
        assert loopback.delays == (2.0,) and sum(remote.delays) > sum(loopback.delays)
    assert sum(loopback.delays) <= 35
