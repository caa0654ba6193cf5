"""Running the reconciliation job in-process, through the Dagster definitions, for the CLI.

The run is recorded in the instance under DAGSTER_HOME, so the UI, the sensors and `diagnose` see
CLI runs exactly like scheduled ones.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from finance_recon.settings import Settings, ensure_dagster_home


@dataclass(frozen=True)
class RunRequestOptions:
    as_of: str | None = None
    tolerance: Decimal | None = None
    grace_minutes: int | None = None
    full_refresh: bool = False
    log_level: str = "WARNING"


@dataclass
class RunOutcome:
    """What a run came to. `failed_checks` are the *blocking* checks that failed (they stop the report);
    `warnings` are the non-blocking checks that did not pass (the report is published all the same)."""

    run_id: str
    success: bool
    cause: str | None = None
    manifest: dict[str, Any] | None = None
    report_url: str | None = None
    # A link that opens the report: presigned HTTPS on S3 (FINANCE_RECON_REPORT_LINK_EXPIRY), else file://.
    report_link: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    log_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": "published" if self.success else "failed",
            "run_id": self.run_id,
            "success": self.success,
            # The one-line cause of a failed run (None when published) and the blocking check behind it.
            "cause": None if self.success else self.cause,
            "blocking_failure": self.failed_checks[0] if self.failed_checks and not self.success else None,
            "failed_checks": self.failed_checks,
            "warnings": self.warnings,
            "report_url": self.report_url,
            "report_link": self.report_link,
            "manifest": self.manifest,
            "log_file": self.log_file,
        }

    def as_json(self, **extra: Any) -> str:
        return json.dumps({**self.as_dict(), **extra}, indent=2, sort_keys=True)


def run_config(options: RunRequestOptions, settings: Settings) -> dict[str, Any]:
    from finance_recon.jobs import reconciliation_run_config

    return reconciliation_run_config(
        tolerance=options.tolerance if options.tolerance is not None else settings.tolerance,
        grace_minutes=options.grace_minutes if options.grace_minutes is not None else settings.grace_minutes,
        as_of=options.as_of,
        full_refresh=options.full_refresh,
        log_level=options.log_level,
    )


def _warnings(result) -> list[dict[str, str]]:
    """The non-blocking checks that did not pass (source lag, dbt tests with severity warn)."""
    found = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and not evaluation.blocking:
                key = evaluation.asset_check_key
                found.append(
                    {
                        "check": f"{key.asset_key.to_user_string()}:{key.name}",
                        "severity": evaluation.severity.value,
                        "description": evaluation.description or "",
                    }
                )
    return found


def _first_failure(result) -> tuple[str | None, list[str]]:
    """One line naming what failed first (the shared read model of run facts, `runs/facts.py`)."""
    from finance_recon.runs.facts import run_failure

    failure = run_failure(result.all_events)
    return (failure.cause, failure.failed_checks) if failure else (None, [])


def execute(
    options: RunRequestOptions,
    settings: Settings,
    on_event: Callable[[Any, Any], None] | None = None,
) -> RunOutcome:
    """Run the job in-process, once; `on_event(instance, entry)` (optional) sees each event as it is
    recorded. A full or unwritable state folder is a one-line cause, not a traceback."""
    from finance_recon.runs.errors import name_state_folder, state_folder_cause

    try:
        outcome = _execute(options, settings, on_event)
    except Exception as exc:
        cause = state_folder_cause(exc, settings.home)
        if cause is None:
            raise
        return RunOutcome(run_id="", success=False, cause=cause)
    outcome.cause = name_state_folder(outcome.cause, settings.home)
    return outcome


def run_once(settings: Settings) -> tuple[str, bool, str | None]:
    """One run with the default options, as the drills need it: (run id, success, cause)."""
    outcome = execute(RunRequestOptions(), settings)
    return outcome.run_id, outcome.success, outcome.cause


def _execute(
    options: RunRequestOptions, settings: Settings, on_event: Callable[[Any, Any], None] | None
) -> RunOutcome:
    ensure_dagster_home(settings)
    from finance_recon.definitions import build_definitions
    from finance_recon.names import RECONCILIATION_JOB_NAME
    from finance_recon.report.history import latest_run
    from finance_recon.runs.errors import RunSafetyError
    from finance_recon.runs.exclusive import exclusive_cli_run, new_run_id

    defs = build_definitions(settings)
    job = defs.resolve_job_def(RECONCILIATION_JOB_NAME)
    # One run at a time (an OS lock shared with daemon runs); dead runs are marked failed first.
    run_id = new_run_id()
    try:
        # SIGTERM/SIGINT while the run executes: `execute_in_process` itself turns them into
        # Dagster's execution interrupt for the whole execution (the step stops, dagster-dbt sends
        # SIGINT to `dbt build` and waits for it, the run is recorded FAILURE).
        # tests/faults/test_interrupt.py pins it.
        with exclusive_cli_run(settings.home, run_id) as (instance, holder_tags):
            if on_event is not None:
                instance.add_event_listener(run_id, functools.partial(on_event, instance))
            result = job.execute_in_process(
                run_config=run_config(options, settings),
                instance=instance,
                raise_on_error=False,
                run_id=run_id,
                tags=holder_tags,
            )
    except RunSafetyError as exc:
        return RunOutcome(run_id="", success=False, cause=str(exc))
    cause, failed_checks = _first_failure(result)
    outcome = RunOutcome(
        run_id=result.run_id,
        success=result.success,
        cause=cause,
        failed_checks=failed_checks,
        warnings=_warnings(result),
    )
    if result.success:
        store = defs.resources["report_store"].open()
        published = latest_run(store)
        if published and published.run_id == result.run_id:
            outcome.manifest = published.manifest
            outcome.report_url = store.url_for(
                published.manifest_key.replace("manifest.json", "summary.html")
            )
            outcome.report_link = store.link_for(
                published.manifest_key.replace("manifest.json", "summary.html"),
                defs.resources["report_store"].link_expiry_seconds,
            )
        else:
            outcome.success = False
            outcome.cause = "the run succeeded but latest.json does not name it"
    elif outcome.cause is None:
        outcome.cause = "run failed"
    if outcome.success:
        outcome.cause = None
    return outcome


def format_summary(manifest: dict[str, Any], expected_counts: dict[str, int] | None = None) -> str:
    """A readable summary of a published run; with `expected_counts`, a column comparing against them."""
    from finance_recon.contracts import BREAK_CATEGORIES, CATEGORIES

    lines = [
        f"run        {manifest['run_id']}",
        f"as_of      {manifest['as_of']}   tolerance {manifest['parameters']['tolerance']}   "
        f"grace {manifest['parameters']['grace_minutes']} min",
        f"verdict    {manifest['verdict']}",
        "",
        f"{'category':<20}{'items':>10}" + (f"{'expected':>10}  " if expected_counts is not None else ""),
    ]
    for category in CATEGORIES:
        count = manifest["counts"].get(category, 0)
        marker = " *" if category in BREAK_CATEGORIES else "  "
        row = f"{category + marker:<20}{count:>10}"
        if expected_counts is not None:
            want = expected_counts.get(category, 0)
            row += f"{want:>10}  {'ok' if want == count else 'MISMATCH'}"
        lines.append(row)
    lifecycle = manifest.get("lifecycle", {})
    lines += [
        "(* = break)",
        "",
        # Money per currency: amounts of different currencies are never added together.
        f"{'currency':<10}{'expected':>18}{'net':>18}{'break amount':>18}{'breaks':>8}",
        *(
            f"{t['currency']:<10}{t['total_expected']:>18}{t['total_net']:>18}{t['break_amount']:>18}"
            f"{t['break_count']:>8}"
            for t in manifest.get("totals_by_currency", [])
        ),
        "",
        f"breaks           {manifest.get('breaks', 0)}  (new {lifecycle.get('new', 0)}, persisting "
        f"{lifecycle.get('persisting', 0)}, resolved {lifecycle.get('resolved', 0)})",
        f"source freshness orders {manifest['watermarks'].get('orders_max_updated_at')}, "
        f"payments {manifest['watermarks'].get('payments_max_updated_at')}",
    ]
    return "\n".join(lines)
