"""What the Dagster instance (DAGSTER_HOME) knows about the reconciliation, read without loading the
code location (loading the definitions parses the dbt manifest and costs seconds; the instance's
storage answers everything `diagnose` needs):

- the latest reconciliation run (job `finance_reconciliation`, or an on-demand `__ASSET_JOB` run that
  materialized the report), its status, for a failed run its first real error (`runs/facts.py`, the
  read model the CLI and the alerts share) and the checks that failed in it, and for a run in
  flight whether its process died (`runs/liveness.py`);
- the latest result of every check the platform runs (keys seen in recent runs plus the platform's
  own quality checks), failed ones with their description;
- the freshness state the FreshnessDaemon last recorded for the report and the sources;
- the schedule's stored state and the daemons' heartbeats (runbook §3.2: "check the orchestrator").
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dagster import AssetCheckKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from finance_recon.names import (
    FRESH_ASSET_KEYS,
    PIPELINE_TAG,
    PIPELINE_TAG_VALUE,
    PLATFORM_CHECK_KEYS,
    RECONCILIATION_JOB_NAME,
    REPORT_KEY,
)
from finance_recon.runs.facts import read_run_failure
from finance_recon.runs.liveness import dead_cause

RECENT_RUNS = 50
IN_FLIGHT = frozenset(
    {
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
    }
)


@dataclass
class RunFact:
    run_id: str
    job_name: str
    status: str
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    minutes_since_update: float | None
    failed_step: str | None = None
    error: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    error_kind: str | None = None  # runs/facts.py taxonomy, e.g. "unreachable", "schema_drift"
    retryable: bool | None = None
    dead: str | None = None  # an in-flight run whose process is gone: "process died (…)"


@dataclass
class CheckFact:
    key: str
    status: str  # SUCCEEDED | FAILED | EXECUTION_FAILED | SKIPPED | PLANNED
    passed: bool | None
    severity: str | None
    description: str | None
    run_id: str
    at: str

    @property
    def is_platform(self) -> bool:
        return self.key.split(":")[-1] in ("contract", "source_lag", "report_consistency")


@dataclass
class InstanceFacts:
    dagster_home: str
    latest_run: RunFact | None = None  # the newest run, whatever its status
    last_finished: RunFact | None = None  # the newest finished run, when the newest is still in flight
    last_success: RunFact | None = None
    runs_in_flight: int = 0
    checks: list[CheckFact] = field(default_factory=list)
    freshness: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, str] = field(default_factory=dict)
    daemons: dict[str, float] = field(default_factory=dict)  # daemon type -> seconds since heartbeat
    error: str | None = None
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def latest_finished(self) -> RunFact | None:
        return self.last_finished or (
            self.latest_run
            if self.latest_run and self.latest_run.status not in {s.value for s in IN_FLIGHT}
            else None
        )

    @property
    def failed_checks(self) -> list[CheckFact]:
        return [c for c in self.checks if c.passed is False]


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


def is_reconciliation_run(run) -> bool:
    if run.job_name == RECONCILIATION_JOB_NAME or run.tags.get(PIPELINE_TAG) == PIPELINE_TAG_VALUE:
        return True
    selection = run.asset_selection or set()
    return run.job_name.startswith("__ASSET_JOB") and REPORT_KEY in selection


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:400] if lines else None


def run_fact(instance: DagsterInstance, record, now: float) -> RunFact:
    run = record.dagster_run
    fact = RunFact(
        run_id=run.run_id,
        job_name=run.job_name,
        status=run.status.value,
        created_at=_iso(record.create_timestamp.timestamp()),
        started_at=_iso(record.start_time),
        ended_at=_iso(record.end_time),
        minutes_since_update=round(
            (now - (record.end_time or record.start_time or record.create_timestamp.timestamp())) / 60, 2
        ),
    )
    if run.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
        # The same first real error the CLI prints and the run-failure alert carries.
        failure = read_run_failure(instance, run.run_id)
        if failure is not None:
            fact.failed_step = failure.step
            fact.error = failure.message
            fact.failed_checks = list(failure.failed_checks)
            fact.error_kind, fact.retryable = failure.kind, failure.retryable
    elif run.status in IN_FLIGHT:
        fact.dead = dead_cause(run, lock_held=False, now=now, update_ts=record.update_timestamp.timestamp())
    return fact


def _check_fact(record) -> CheckFact:
    event = record.event.dagster_event if record.event else None
    data = event.event_specific_data if event is not None else None
    passed = getattr(data, "passed", None) if data is not None and hasattr(data, "passed") else None
    severity = getattr(data, "severity", None)
    return CheckFact(
        key=record.key.to_user_string(),
        status=record.status.value,
        passed=passed,
        severity=severity.value if severity is not None else None,
        description=_first_line(getattr(data, "description", None)),
        run_id=record.run_id,
        at=_iso(record.create_timestamp) or "",
    )


def read_instance(now: datetime | None = None, instance: DagsterInstance | None = None) -> InstanceFacts:
    """Facts from the instance under DAGSTER_HOME (`settings.ensure_dagster_home` sets it)."""
    import os

    started = time.perf_counter()
    now_ts = (now or datetime.now(UTC)).timestamp()
    facts = InstanceFacts(dagster_home=os.environ.get("DAGSTER_HOME", ""))
    owned = instance is None
    try:
        instance = instance or DagsterInstance.get()
    except Exception as exc:  # noqa: BLE001 - report, do not raise
        facts.error = f"cannot open the Dagster instance at DAGSTER_HOME={facts.dagster_home}: {exc}"
        return facts
    try:
        _read_runs(instance, facts, now_ts)
        _read_checks(instance, facts)
        _read_freshness(instance, facts)
        _read_orchestrator(instance, facts, now_ts)
    except Exception as exc:  # noqa: BLE001
        facts.error = f"reading the Dagster instance failed: {type(exc).__name__}: {exc}"
    finally:
        if owned:
            instance.dispose()
    facts.elapsed_s = round(time.perf_counter() - started, 3)
    return facts


def _read_runs(instance: DagsterInstance, facts: InstanceFacts, now_ts: float) -> None:
    records = [r for r in instance.get_run_records(limit=RECENT_RUNS) if is_reconciliation_run(r.dagster_run)]
    facts.runs_in_flight = sum(1 for r in records if r.dagster_run.status in IN_FLIGHT)
    if not records:
        return
    facts.latest_run = run_fact(instance, records[0], now_ts)
    finished = next((r for r in records if r.dagster_run.status not in IN_FLIGHT), None)
    if finished is not None and finished is not records[0]:
        facts.last_finished = run_fact(instance, finished, now_ts)
    success = next((r for r in records if r.dagster_run.status == DagsterRunStatus.SUCCESS), None)
    if success is not None:
        facts.last_success = run_fact(instance, success, now_ts)


def _read_checks(instance: DagsterInstance, facts: InstanceFacts) -> None:
    keys: dict[AssetCheckKey, None] = dict.fromkeys(PLATFORM_CHECK_KEYS)
    run_ids = dict.fromkeys(
        r.run_id for r in (facts.latest_run, facts.last_finished, facts.last_success) if r
    )
    for run_id in run_ids:
        for entry in instance.all_logs(run_id, of_type={DagsterEventType.ASSET_CHECK_EVALUATION}):
            keys.setdefault(entry.dagster_event.event_specific_data.asset_check_key, None)
    if not keys:
        return
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(keys))
    facts.checks = sorted((_check_fact(r) for r in latest.values() if r is not None), key=lambda c: c.key)


def _read_freshness(instance: DagsterInstance, facts: InstanceFacts) -> None:
    try:
        records = instance.get_freshness_state_records(list(FRESH_ASSET_KEYS))
    except Exception as exc:  # noqa: BLE001 - older storages
        facts.freshness["_error"] = {"state": "UNKNOWN", "error": str(exc)}
        return
    for key in FRESH_ASSET_KEYS:
        record = records.get(key)
        if record is not None:
            facts.freshness[key.to_user_string()] = {
                "state": record.freshness_state.value,
                "since": record.updated_at.astimezone(UTC).isoformat(),
            }


def _read_orchestrator(instance: DagsterInstance, facts: InstanceFacts, now_ts: float) -> None:
    for state in instance.all_instigator_state():
        # Compared by value: `dagster` does not export InstigatorType (SCHEDULE / SENSOR / ...).
        if state.instigator_type.value == "SCHEDULE":
            facts.schedules[state.instigator_name] = state.status.value
    for daemon_type, heartbeat in instance.get_daemon_heartbeats().items():
        facts.daemons[daemon_type] = round(now_ts - heartbeat.timestamp, 1)
