"""The one read model of run facts on real Dagster runs: the first real error (not Dagster's
wrapper, not a first line), classified, and the same from the run result and from the instance."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance, Failure, RetryPolicy, job, op

from finance_recon.runs.facts import classify, one_line, read_run_failure, run_failure
from finance_recon.sources.errors import ContractViolationError, SourceUnavailableError

PG = "source postgresql://rel_user:***@127.0.0.1:5432/payments is unavailable (host 127.0.0.1:5432, database payments)"


@op
def described_failure():
    raise Failure(description=f"{PG}: server closed the connection unexpectedly", allow_retries=False)


@op
def chained_error():
    try:
        raise ConnectionResetError("connection reset by peer")
    except ConnectionResetError as exc:
        raise SourceUnavailableError(f"{PG}: connection reset by peer") from exc


@op(retry_policy=RetryPolicy(max_retries=1, delay=0))
def retried_then_exhausted():
    raise SourceUnavailableError(f"{PG}: timeout expired")


@op
def multi_line_error():
    raise ContractViolationError(
        "source mysql+pymysql://root@127.0.0.1:3306/oltp (host 127.0.0.1:3306, database oltp):\n"
        "  table orders is missing column currency\n  (expected VARCHAR/CHAR)"
    )


@op
def dbt_failure_with_description():
    # What dagster-dbt raises: a Failure whose description starts with the (long) dbt command.
    raise Failure(
        description="The dbt CLI process with command\n\n`dbt build --select "
        + " ".join(f"fqn:finance_recon.model_{i}" for i in range(40))
        + "`\n\nfailed with exit code `1`. Check the stdout.\n\nErrors parsed from dbt logs:\n\n"
        "Failure in test not_null_stg_payments__payments_amount (models/staging/_staging__models.yml)"
    )


@op
def dbt_style_error():
    raise RuntimeError(
        "The dbt CLI process with command\n\n`dbt build --select fqn:*`\n\nfailed with exit code `1`. "
        "Check the stdout.\n\nErrors parsed from dbt logs:\n\nIO Error: Could not set lock on file "
        '"/tmp/warehouse.duckdb": Conflicting lock is held'
    )


def _job(body):
    @job(name=f"job_{body.name}")
    def _j():
        body()

    return _j


@pytest.fixture(scope="module")
def instance():
    with DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.mark.parametrize(
    ("body", "message", "kind", "retryable"),
    [
        (described_failure, f"{PG}: server closed the connection unexpectedly", "unreachable", True),
        (chained_error, f"{PG}: connection reset by peer", "unreachable", True),
        (retried_then_exhausted, f"{PG}: timeout expired", "timeout", True),
        (
            multi_line_error,
            "source mysql+pymysql://root@127.0.0.1:3306/oltp (host 127.0.0.1:3306, database oltp): "
            "table orders is missing column currency (expected VARCHAR/CHAR)",
            "schema_drift",
            False,
        ),
        (
            dbt_style_error,
            'IO Error: Could not set lock on file "/tmp/warehouse.duckdb": Conflicting lock is held',
            "lock_held",
            True,
        ),
    ],
)
def test_the_first_real_error_is_named_and_classified(instance, body, message, kind, retryable):
    result = _job(body).execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = run_failure(result.all_events)
    assert failure.message == message
    assert failure.cause == f"step {body.name} failed: {message}"
    assert "Error occurred while executing" not in failure.cause
    assert "max_retries" not in failure.cause
    assert (failure.kind, failure.retryable) == (kind, retryable)
    assert read_run_failure(instance, result.run_id) == failure  # CLI, alerts and diagnose agree


def test_a_run_marked_dead_is_read_as_process_died(instance):
    from dagster import DagsterRun, DagsterRunStatus

    run = DagsterRun(job_name="finance_reconciliation", run_id="dead-1", status=DagsterRunStatus.STARTED)
    instance.add_run(run)
    instance.report_run_failed(run, "process died (pid 9 on host h is gone); marked failed by finance_recon")
    failure = read_run_failure(instance, "dead-1")
    assert failure.message == "process died (pid 9 on host h is gone); marked failed by finance_recon"
    assert (failure.kind, failure.retryable, failure.step) == ("process_died", True, None)


@pytest.mark.parametrize(
    ("text", "kind", "retryable"),
    [
        (
            'source postgresql://u:***@h/db is unavailable: FATAL: password authentication failed for user "u"',
            "wrong_password",
            False,
        ),
        (
            "source mysql://u@h/oltp (…): table orders does not exist (contracts §1 requires it)",
            "missing_table",
            False,
        ),
        (
            "publishing the report failed: cannot write s3://b/latest.json: An error occurred (AccessDenied)",
            "store_denied",
            False,
        ),
        (
            "report store unreachable: cannot read s3://b/latest.json: Could not connect to the endpoint URL",
            "unreachable",
            True,
        ),
        (
            "the state folder (FINANCE_RECON_HOME) is full: /x/locks/reconciliation.lock: No space left on device",
            "state_folder",
            False,
        ),
        (
            "another reconciliation is running: run abc (pid 1 on host h, started at 2026-12-02T04:00:00+00:00)",
            "lock_held",
            True,
        ),
        ("blocking check failed: payments:contract", "bad_data", False),
    ],
)
def test_classification(text, kind, retryable):
    assert classify(text) == (kind, retryable)


def test_one_line_collapses_and_bounds():
    assert one_line("a\n\n  b\tc") == "a b c"
    assert len(one_line("x" * 1000)) <= 400
    cut = one_line("Errors parsed from dbt logs " * 40)
    assert len(cut) <= 400 and cut.endswith("logs …"), cut  # between words, never mid-word


def test_a_dbt_failure_names_dbts_error_not_the_command(instance):
    result = _job(dbt_failure_with_description).execute_in_process(instance=instance, raise_on_error=False)
    failure = read_run_failure(instance, result.run_id)
    assert failure.message == (
        "Failure in test not_null_stg_payments__payments_amount (models/staging/_staging__models.yml)"
    ), failure.message
