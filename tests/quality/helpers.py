"""Shared helpers for the quality tests: servers that must exist under CI, and a real pipeline
deployment (sources on MariaDB/PostgreSQL, state in a tmp FINANCE_RECON_HOME) run in-process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.services import on_ci, require_server  # noqa: F401 (shared helpers)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class RunSummary:
    run_id: str
    success: bool
    cause: str | None
    steps_started: set[str]
    check_descriptions: dict[str, tuple[bool, str]]  # "orders:contract" -> (passed, description)


def run_pipeline(settings) -> RunSummary:
    """One run of the reconciliation job through the CLI's entry point, summarised from the event log."""
    from dagster import DagsterInstance

    from finance_recon.cli.pipeline import RunRequestOptions, execute

    outcome = execute(RunRequestOptions(), settings)
    steps: set[str] = set()
    checks: dict[str, tuple[bool, str]] = {}
    with DagsterInstance.get() as instance:
        for entry in instance.all_logs(outcome.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_START":
                steps.add(event.step_key)
            elif event.event_type_value == "ASSET_CHECK_EVALUATION":
                evaluation = event.event_specific_data
                checks[evaluation.asset_check_key.to_user_string()] = (
                    evaluation.passed,
                    evaluation.description or "",
                )
    return RunSummary(outcome.run_id, outcome.success, outcome.cause, steps, checks)


def latest_json(settings) -> bytes | None:
    path = Path(settings.reports_uri) / "latest.json"
    return path.read_bytes() if path.exists() else None
