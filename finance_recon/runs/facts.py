"""The one read model of "why did this run fail", shared by the CLI, the run-failure alert and
`diagnose` (issue 11 item 3), so that all three name the same first real error in one line.

The first real error of a run is, in order: the first failed step's own error (a `Failure`'s
description, or the user-code exception found by unwrapping Dagster's wrappers — "Error occurred
while executing op …", "Exceeded max_retries" — and its cause chain, never the wrapper's first
line); else the run failure's error (a run refused by the run lock, a run marked "process died");
else the first failed blocking check. It is classified retryable (a source, the store or the
warehouse unreachable, a timeout, the run lock held, a process that died) or permanent (schema
drift, a missing table, bad data, a wrong password, a full or unwritable state folder).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_CHARS = 400

# Dagster's wrappers around user code: their message is boilerplate, their cause is the error.
_WRAPPERS = {
    "DagsterExecutionStepExecutionError",
    "DagsterUserCodeExecutionError",
    "DagsterMaxRetriesExceededError",
    "DagsterExecutionInterruptedError",
    "RetryRequested",
    "RetryRequestedFromPolicy",
    "DagsterResourceFunctionError",
}

# (kind, retryable, pattern on the class names and the message) — first match wins.
_RULES: tuple[tuple[str, bool, re.Pattern[str]], ...] = tuple(
    (kind, retryable, re.compile(pattern, re.IGNORECASE))
    for kind, retryable, pattern in (
        ("state_folder", False, r"FINANCE_RECON_HOME|StateFolderError|disk I/O error|No space left"),
        ("lock_held", True, r"RunLockHeldError|another reconciliation is running|could not set lock on file"),
        ("process_died", True, r"process died"),
        (
            "wrong_password",
            False,
            r"password authentication failed|Access denied for user|authentication failed|"
            r"InvalidAccessKeyId|SignatureDoesNotMatch",
        ),
        ("missing_table", False, r"does not exist|doesn't exist|NoSuchBucket|Unknown database"),
        ("schema_drift", False, r"is missing column|has type .*, expected"),
        ("bad_data", False, r"does not match the contract|blocking check failed|continuity|violat"),
        ("store_denied", False, r"AccessDenied|\b403\b|Forbidden"),
        ("timeout", True, r"timed? ?out|TimeoutError"),
        (
            "unreachable",
            True,
            r"SourceUnavailableError|WarehouseBusyError|is unavailable|unreachable|StoreError|"
            r"Connection refused|could not connect|EndpointConnectionError|connection .*closed|"
            r"Lost connection|server closed the connection",
        ),
    )
)


@dataclass(frozen=True)
class RunFailure:
    """The first real error of a failed run."""

    cause: str  # one line, e.g. "step payments failed: source postgresql://… is unavailable (…)"
    message: str  # the error alone, one line
    kind: str  # see _RULES; "unknown" when nothing matched
    retryable: bool
    step: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    covered_by_check: bool = False  # a failed blocking ERROR check explains the run (its own alert)


def one_line(text: str | None, limit: int = MAX_CHARS) -> str:
    """Collapse whitespace to one line, at most `limit` characters, cut between words (never
    "Errors parsed from dbt l…": issue 25)."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 2]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + " …"


def _strip_class(message: str, cls_name: str | None) -> str:
    """`SerializableErrorInfo.message` starts with "module.Class: "; keep what follows."""
    text = message.strip()
    if cls_name:
        match = re.match(rf"^[\w.]*{re.escape(cls_name)}: ?", text)
        if match:
            text = text[match.end() :]
    return text


def _dbt_errors(text: str) -> str:
    """dagster-dbt's failure is "The dbt CLI process with command … failed …": keep dbt's errors."""
    marker = "Errors parsed from dbt logs:"
    if marker in text:
        return text.split(marker, 1)[1]
    return text


def unwrap(error) -> list[Any]:
    """The chain of a `SerializableErrorInfo` below Dagster's wrappers: [real error, its cause, …]."""
    chain = []
    seen = 0
    while error is not None and seen < 20:
        seen += 1
        if error.cls_name not in _WRAPPERS:
            chain.append(error)
        error = error.cause or error.context
    return chain


def error_text(error) -> tuple[str, str]:
    """(one-line message of the real error, class names and messages of the whole chain)."""
    chain = unwrap(error)
    if not chain:
        top = _strip_class(error.message, error.cls_name) if error is not None else ""
        return one_line(top) or "unknown error", top
    first = chain[0]
    message = one_line(_dbt_errors(_strip_class(first.message, first.cls_name)))
    if not message and len(chain) > 1:
        message = one_line(_strip_class(chain[1].message, chain[1].cls_name))
    everything = " ".join(f"{e.cls_name} {e.message}" for e in chain)
    return message or first.cls_name or "unknown error", everything


def classify(text: str) -> tuple[str, bool]:
    for kind, retryable, pattern in _RULES:
        if pattern.search(text):
            return kind, retryable
    return "unknown", False


def _severity_is_error(severity: Any) -> bool:
    return str(getattr(severity, "value", severity)).upper() == "ERROR"


def run_failure(events: Iterable[Any]) -> RunFailure | None:
    """The first real error among a run's events (`DagsterEvent`s, or `EventLogEntry`s from
    `instance.all_logs`), or None when nothing failed."""
    from dagster import DagsterEventType

    failed_checks: list[str] = []
    check_description: str | None = None  # the first failed blocking check's own account
    covered = False
    step_failure = None
    run_failure_event = None
    for item in events:
        event = getattr(item, "dagster_event", item)
        if event is None:
            continue
        kind = event.event_type
        if kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            # Only a blocking check stops the report; a failed non-blocking one is a warning.
            if not evaluation.passed and getattr(evaluation, "blocking", False):
                key = evaluation.asset_check_key
                failed_checks.append(f"{key.asset_key.to_user_string()}:{key.name}")
                if check_description is None:
                    check_description = getattr(evaluation, "description", None)
                if getattr(evaluation, "blocking", False) and _severity_is_error(evaluation.severity):
                    covered = True
        elif kind == DagsterEventType.STEP_FAILURE and step_failure is None:
            step_failure = event
        elif kind == DagsterEventType.RUN_FAILURE and run_failure_event is None:
            run_failure_event = (event, getattr(item, "message", None) or event.message)
    if step_failure is not None:
        data = step_failure.event_specific_data
        described = data.user_failure_data.description if data.user_failure_data else None
        message, chain = error_text(data.error) if data.error is not None else ("unknown error", "")
        if described:
            # dagster-dbt's Failure describes the dbt command first: keep dbt's own errors.
            message, chain = one_line(_dbt_errors(described)), f"{described} {chain}"
        cause = f"step {step_failure.step_key} failed: {message}"
        if failed_checks and "DagsterAssetCheckFailedError" in chain:
            # The step failed *because* a blocking check failed: Dagster's error only counts the
            # checks; the check's description names the table, column, rule and samples.
            message = one_line(check_description) or f"blocking check failed: {failed_checks[0]}"
            cause = one_line(f"check {failed_checks[0]} failed: {message}")
            chain = f"blocking check failed {chain}"
        kind, retryable = classify(f"{message} {chain}")
        return RunFailure(
            cause=cause,
            message=message,
            kind=kind,
            retryable=retryable,
            step=step_failure.step_key,
            failed_checks=failed_checks,
            covered_by_check=covered,
        )
    if run_failure_event is not None:
        event, text = run_failure_event
        data = event.event_specific_data
        error = getattr(data, "error", None)
        if error is not None:
            message, chain = error_text(error)
        elif failed_checks:
            message = chain = f"blocking check failed: {failed_checks[0]}"
        else:
            message = chain = one_line(text) or "run failed"
        kind, retryable = classify(f"{message} {chain}")
        return RunFailure(message, message, kind, retryable, None, failed_checks, covered)
    if failed_checks:
        message = f"blocking check failed: {failed_checks[0]}"
        return RunFailure(message, message, "bad_data", False, None, failed_checks, covered)
    return None


def read_run_failure(instance, run_id: str) -> RunFailure | None:
    """`run_failure` of a run recorded in the instance (reads only the events it needs)."""
    from dagster import DagsterEventType

    wanted = {
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.RUN_FAILURE,
        DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    return run_failure(instance.all_logs(run_id, of_type=wanted))
