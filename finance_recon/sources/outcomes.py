"""What a batch step does with each table's outcome: materialize it, retry the step, or fail the run.

The failure taxonomy (contracts §1, issues 3 and 25), per table, as each table had its own step:

- a source that cannot be reached (`SourceUnavailableError`) is retried as often and as soon as its
  reason deserves (`errors.retry_plan`), each retry a warning naming the table, the cause and the time
  of the next attempt; once the plan is spent it fails, saying after how many attempts and why;
- a refused login, a contract violation, any permanent `SourceError`: fails at once, no retry;
- a retryable `SourceError` (the warehouse busy) or an error `runs/facts.py` calls retryable: retried
  by the step's RetryPolicy; any other error fails at once.

When a step reads several tables (sources/concurrent.py), the step is the unit Dagster retries:

- a table failing for good fails the run at once, naming the table, whatever the others do; a table
  that was read is still staged and materialized (it lands only once its contract check passes, and
  its check does not run in a failed run: the next run reads it again);
- else a table worth a retry retries the whole step: every table is read again at the next attempt,
  which is idempotent (the batch is replaced, nothing lands before its check). The attempt is the
  step's (`context.retry_number`), so a table that first fails at the second attempt gets what is left
  of its plan; the wait is the longest any failed table's plan asks for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import AssetKey, Backoff, Failure, Jitter, MaterializeResult, RetryPolicy, RetryRequested

from ..contracts import SourceTable
from ..runs.facts import classify, one_line
from .errors import SourceError, SourceUnavailableError, retry_plan

# 4 attempts over ~35 s: enough for a database restart or a failover, short of hiding an outage.
SOURCE_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=5, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


@dataclass(frozen=True)
class _Verdict:
    table: SourceTable
    kind: str  # "fail" (now, for good) | "plan" (retry by the reason's plan) | "policy" (the RetryPolicy's)
    message: str = ""
    retries: int = 0  # "plan": how many retries the plan allows in all
    wait_s: float = 0.0  # "plan": seconds before the next attempt
    reason: str = ""  # "plan": why the source is unavailable (errors.REASONS)
    why: str = ""  # "plan": why the plan retries it so
    error: BaseException | None = None  # what to raise ("policy"), or the cause of a failure


def _verdict(table: SourceTable, exc: BaseException, attempt: int, policy: RetryPolicy | None) -> _Verdict:
    if isinstance(exc, SourceUnavailableError):
        plan = retry_plan(exc.reason, exc.host)
        retries = min(len(plan.delays), policy.max_retries if policy is not None else 0)  # the policy caps
        if attempt >= retries:
            tried = f"after {attempt + 1} attempts" if attempt else "not retried"
            return _Verdict(table, "fail", f"{exc} — {exc.reason}, {tried} ({plan.why})")
        # The policy's delay sets the time scale: 1 for SOURCE_RETRY_POLICY, tests build faster ones.
        wait = plan.delays[attempt] * (policy.delay or 0) / SOURCE_RETRY_POLICY.delay
        return _Verdict(
            table, "plan", str(exc), retries=retries, wait_s=wait, reason=exc.reason, why=plan.why
        )
    if isinstance(exc, SourceError):
        if exc.retryable:
            return _Verdict(
                table, "policy", str(exc), error=Failure(description=str(exc), allow_retries=True)
            )
        return _Verdict(table, "fail", str(exc))
    if isinstance(exc, Failure):
        if exc.allow_retries:
            return _Verdict(table, "policy", exc.description or str(exc), error=exc)
        return _Verdict(table, "fail", exc.description or str(exc))
    if isinstance(exc, RetryRequested):
        return _Verdict(table, "policy", f"retry requested: {exc}", error=exc)
    # Not one of ours: the RetryPolicy retries it only when the run-facts taxonomy calls it retryable
    # (a lock held, a timeout, a connection lost); a permanent error (a full state folder, a missing
    # table) fails the run at once instead of after ~35 s of retries.
    _kind, retryable = classify(f"{type(exc).__name__} {exc}")
    message = one_line(str(exc)) or type(exc).__name__
    return _Verdict(table, "policy" if retryable else "fail", message, error=exc)


def settle(
    context: Any,
    tables: list[SourceTable],
    outcomes: Mapping[str, Mapping[str, Any] | BaseException],
    policy: RetryPolicy | None,
) -> Iterator[MaterializeResult]:
    """Materialize each table that was read; then retry the step or fail the run for the others.
    With several tables each message starts with its table's name."""
    named = len(tables) > 1
    read = [t for t in tables if not isinstance(outcomes[t.asset_name], BaseException)]
    verdicts = [
        _verdict(t, outcomes[t.asset_name], context.retry_number, policy)  # type: ignore[arg-type]
        for t in tables
        if t not in read
    ]
    failed = [v for v in verdicts if v.kind == "fail"]
    if failed or not verdicts:
        # A table that failed for good fails the run now: the others were read and are staged, so
        # they are materialized (their checks, and so their landing, wait for a run that succeeds).
        for table in read:
            yield MaterializeResult(
                asset_key=AssetKey(table.batch_asset_name), metadata=dict(outcomes[table.asset_name])
            )
    if failed:
        _fail(context, verdicts, named)
    planned = [v for v in verdicts if v.kind == "plan"]
    if planned:
        _retry_by_plan(context, planned, [v for v in verdicts if v.kind == "policy"], named)
    if verdicts:  # only the RetryPolicy's kind: its first error, as the step would have raised it
        for verdict in verdicts:
            context.log.error(f"{verdict.table.asset_name}: {verdict.message}" if named else verdict.message)
        raise verdicts[0].error  # type: ignore[misc]


def _fail(context: Any, verdicts: list[_Verdict], named: bool):
    def line(v: _Verdict) -> str:
        text = v.message if v.kind == "fail" else f"{v.message} — not retried: the run fails on another table"
        return f"{v.table.asset_name}: {text}" if named else text

    lines = [line(v) for v in verdicts]
    for text in lines:
        context.log.error(text)
    causes = [v.error for v in verdicts if v.kind == "fail" and v.error is not None]
    # One line naming every failed table. `from None` for our own errors: the driver's exception is
    # already summarised in the message; its chain could only add noise (and, for some drivers,
    # connection details) to the event log.
    raise Failure(description="; ".join(lines), allow_retries=False) from (causes[0] if causes else None)


def _retry_by_plan(context: Any, planned: list[_Verdict], others: list[_Verdict], named: bool):
    wait = max(v.wait_s for v in planned)
    at = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%H:%M:%SZ")
    attempt = context.retry_number + 2  # the next attempt, counting from 1
    lines = [
        f"{v.table.asset_name}: {v.reason} — attempt {attempt} of {v.retries + 1} at {at} "
        f"(in {wait:.3g} s; {v.why}): {v.message}"
        for v in planned
    ]
    lines += [f"{v.table.asset_name}: {v.message} — read again at attempt {attempt}, at {at}" for v in others]
    for text in lines:
        context.log.warning(text)
    if named:  # the tables that were read are read again too: say so, it costs their read time
        context.log.info(
            f"attempt {attempt} reads every table of the step again (idempotent: nothing has landed)"
        )
    # One line per table: the CLI prints each under the extract stage (cli/output.py).
    raise RetryRequested(
        max_retries=max(v.retries for v in planned), seconds_to_wait=wait
    ) from SourceUnavailableError("\n".join(lines))
