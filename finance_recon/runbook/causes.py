"""The ranked likely cause (runbook §5) from what `diagnose` observed. Pure: facts in, ranking out.

Ranking rule: a cause observed *directly now* outranks one inferred from history, and a cause that
makes the others inevitable outranks them. A store that cannot be reached or refuses our credentials
stops every publication, so it comes first; a source whose table no longer matches the contract
fails every run, so schema drift outranks the run failure it produces (the failure is listed as
evidence). A run failure nothing else explains is "job failure"; no failure and no recent run while
the report ages is "job not running" (schedule stopped or daemon down, runbook §3.2). Replication lag
(§5 "CDC lag") leaves the job green and the report current but stale in content, so it ranks after
anything that stops the report. With no cause at all the answer is "healthy".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STORAGE_UNREACHABLE = "storage_unreachable"
CREDENTIALS_REJECTED = "credentials_rejected"
STORAGE_FULL = "storage_full"
SCHEMA_DRIFT = "schema_drift"
SOURCE_UNREACHABLE = "source_unreachable"
JOB_FAILURE = "job_failure"
JOB_STUCK = "job_stuck"
SOURCE_LAG = "source_lag"
JOB_NOT_RUNNING = "job_not_running"
HEALTHY = "healthy"

TITLES = {
    STORAGE_UNREACHABLE: "object store unreachable (endpoint down, bucket missing)",
    CREDENTIALS_REJECTED: "credentials rejected (expired/wrong key, permission denied)",
    STORAGE_FULL: "object store full",
    SCHEMA_DRIFT: "schema drift or bad data in a source (contract check failed)",
    SOURCE_UNREACHABLE: "source database unreachable",
    JOB_FAILURE: "reconciliation job failure",
    JOB_STUCK: "reconciliation run queued or running for longer than the SLA",
    SOURCE_LAG: "source/CDC lag (newest updated_at too old)",
    JOB_NOT_RUNNING: "reconciliation not running (schedule stopped or daemon down)",
    HEALTHY: "healthy",
}
# Base scores; evidence only decides whether a cause is listed, the score decides its rank.
SCORES = {
    STORAGE_UNREACHABLE: 100,
    CREDENTIALS_REJECTED: 95,
    STORAGE_FULL: 90,
    SCHEMA_DRIFT: 85,
    SOURCE_UNREACHABLE: 80,
    JOB_STUCK: 70,
    JOB_FAILURE: 65,
    SOURCE_LAG: 60,
    JOB_NOT_RUNNING: 50,
    HEALTHY: 0,
}
SOURCE_LAG_WARN_SCORE = 35  # lag past the warn threshold only: listed, below anything that stops the report
# Runbook section that handles each cause (docs/runbooks/finance-reconciliation-delay.md).
ACTIONS = {
    STORAGE_UNREACHABLE: "restore the object store endpoint/bucket, then `finance-recon run` (runbook §6)",
    CREDENTIALS_REJECTED: "rotate/renew the S3 or source credentials, then `finance-recon run` (runbook §6)",
    STORAGE_FULL: "free space or raise the quota on the store, then `finance-recon run` (runbook §6)",
    SCHEMA_DRIFT: "fix the source table (or the contract, with the owners), then `finance-recon run` (runbook §6.1)",
    SOURCE_UNREACHABLE: "restore the source database/replica, then `finance-recon run`",
    JOB_FAILURE: "read the failing step's log in the Dagster UI, fix, then `finance-recon run`",
    JOB_STUCK: "inspect the run in the Dagster UI (Runs), cancel it if hung, then `finance-recon run`",
    SOURCE_LAG: "resolve the replication/CDC lag (replication-lag runbook), then `finance-recon run`",
    JOB_NOT_RUNNING: "start the schedule / daemon (`make dev` or dagster-daemon), or `finance-recon run` now",
    HEALTHY: "nothing to do",
}

# The next command to run for each cause: the first look that confirms it (or the fix, once done).
NEXT_COMMANDS = {
    STORAGE_UNREACHABLE: "curl -sS -o /dev/null -w '%{http_code}\\n' \"$FINANCE_RECON_S3_ENDPOINT_URL\"  # is the endpoint up?",
    CREDENTIALS_REJECTED: "finance-recon diagnose --json | jq .store  # after rotating AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: read and write probe ok?",
    STORAGE_FULL: 'df -h "$FINANCE_RECON_REPORTS_URI"  # local store; MinIO: mc quota info ALIAS/BUCKET, mc admin info ALIAS',
    SCHEMA_DRIFT: "finance-recon diagnose --json | jq '.sources[] | select(.contract_ok == false)'  # the table and column that broke",
    SOURCE_UNREACHABLE: "finance-recon diagnose --json | jq '.sources[] | select(.reachable == false)'  # then pg_isready / mariadb-admin ping on that host",
    JOB_FAILURE: "dagster run list --limit 1  # or the Dagster UI: Runs -> the failed run -> the failing step's logs; then finance-recon run",
    JOB_STUCK: "dagster run list --limit 3  # or the Dagster UI: Runs -> terminate the hung run; then finance-recon run",
    SOURCE_LAG: "finance-recon diagnose --json | jq '.sources[] | {name, max_updated_at, lag_minutes}'  # then the replication-lag runbook",
    JOB_NOT_RUNNING: "dagster schedule list  # start finance_reconciliation_every_10_minutes (dagster schedule start) or finance-recon run now",
    HEALTHY: "",
}

_STORE_KIND_TO_CAUSE = {
    "unreachable": STORAGE_UNREACHABLE,
    "credentials": CREDENTIALS_REJECTED,
    "full": STORAGE_FULL,
}


@dataclass
class Cause:
    code: str
    score: int
    evidence: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return TITLES[self.code]

    @property
    def action(self) -> str:
        return ACTIONS[self.code]

    @property
    def next_command(self) -> str:
        return NEXT_COMMANDS[self.code]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "title": self.title, "action": self.action, "next_command": self.next_command}


@dataclass(frozen=True)
class Thresholds:
    sla_minutes: float
    source_lag_warn_minutes: float
    source_lag_fail_minutes: float


def rank_causes(
    sources, store, instance, thresholds: Thresholds, report_age_minutes: float | None
) -> list[Cause]:
    """`sources`: [SourceProbe]; `store`: StoreProbe; `instance`: InstanceFacts (any may be partial)."""
    found: dict[str, Cause] = {}

    def add(code: str, evidence: str, score: int | None = None) -> None:
        score = SCORES[code] if score is None else score
        cause = found.setdefault(code, Cause(code, score))
        cause.score = max(cause.score, score)
        if evidence not in cause.evidence:
            cause.evidence.append(evidence)

    # The store, observed now.
    if store is not None and store.error:
        code = _STORE_KIND_TO_CAUSE.get(store.error_kind or "")
        step = "write probe" if store.read_ok and store.write_ok is False else "read"
        add(code or JOB_FAILURE, f"report store {step} failed: {store.error}")
    if store is not None and store.free_bytes is not None and store.free_bytes < 64 * 1024 * 1024:
        add(STORAGE_FULL, f"only {store.free_bytes // (1024 * 1024)} MiB free under {store.uri}")

    # The sources, observed now.
    for s in sources or []:
        if s.error_kind == "contract":
            add(SCHEMA_DRIFT, f"{s.name}: {s.error}")
        elif s.error_kind == "credentials":
            add(CREDENTIALS_REJECTED, f"{s.name} source refused the login: {s.error}")
        elif s.error_kind == "unavailable":
            add(SOURCE_UNREACHABLE, f"{s.name}: {s.error}")
        if s.lag_minutes is not None and s.lag_minutes > thresholds.source_lag_fail_minutes:
            add(
                SOURCE_LAG,
                f"{s.name}: newest updated_at {s.max_updated_at:%Y-%m-%d %H:%M:%S}Z is {s.lag_minutes:g} min old "
                f"(> {thresholds.source_lag_fail_minutes:g} min)",
            )
        elif s.lag_minutes is not None and s.lag_minutes > thresholds.source_lag_warn_minutes:
            add(
                SOURCE_LAG,
                f"{s.name}: newest updated_at is {s.lag_minutes:g} min old "
                f"(> warn {thresholds.source_lag_warn_minutes:g} min)",
                score=SOURCE_LAG_WARN_SCORE,
            )

    # History, from the Dagster instance.
    if instance is not None:
        for check in instance.failed_checks:
            name = check.key.split(":")[-1]
            text = f"check {check.key} failed ({check.severity}) in run {check.run_id[:8]}: {check.description or ''}".rstrip(
                ": "
            )
            if name == "contract":
                add(SCHEMA_DRIFT, text)
            elif name == "source_lag" and check.severity == "ERROR":
                add(SOURCE_LAG, text)
            elif name == "source_lag":
                continue  # a WARN-level lag alone is not a cause of a late report
            else:
                add(JOB_FAILURE, text)
        finished = instance.latest_finished
        if finished is not None and finished.status in ("FAILURE", "CANCELED"):
            where = f"step {finished.failed_step}" if finished.failed_step else "the run"
            text = f"latest run {finished.run_id[:8]} {finished.status}: {where}: {finished.error or 'no error recorded'}"
            attributed = _attribute_failure(finished.error or "")
            if attributed and attributed in found:
                found[attributed].evidence.append(text)
            add(JOB_FAILURE, text)
        latest = instance.latest_run
        in_flight = latest is not None and latest.status in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")
        dead = getattr(latest, "dead", None) if in_flight else None
        if in_flight and (dead or (latest.minutes_since_update or 0) > thresholds.sla_minutes):
            add(
                JOB_STUCK,
                f"run {latest.run_id[:8]} is {latest.status} since {latest.started_at or latest.created_at}"
                + (f" but its {dead}" if dead else ""),
            )
        stale = report_age_minutes is None or report_age_minutes > thresholds.sla_minutes
        if stale and JOB_FAILURE not in found and JOB_STUCK not in found:
            reasons = []
            if latest is None:
                reasons.append("no reconciliation run recorded in the instance")
            elif (latest.minutes_since_update or 0) > thresholds.sla_minutes:
                reasons.append(
                    f"last run {latest.run_id[:8]} ({latest.status}) ended {latest.minutes_since_update:g} min ago"
                )
            stopped = [name for name, status in instance.schedules.items() if status == "STOPPED"]
            if stopped:
                reasons.append(f"schedule stopped: {', '.join(stopped)}")
            if "SCHEDULER" not in instance.daemons:
                reasons.append("no scheduler daemon heartbeat in this instance")
            elif instance.daemons["SCHEDULER"] > 120:
                reasons.append(f"scheduler daemon silent for {instance.daemons['SCHEDULER']:g} s")
            if reasons and not any(
                c in found for c in (STORAGE_UNREACHABLE, CREDENTIALS_REJECTED, STORAGE_FULL)
            ):
                add(JOB_NOT_RUNNING, "; ".join(reasons))

    if not found:
        return [
            Cause(
                HEALTHY,
                0,
                ["report within SLA, sources fresh, store readable and writable, latest run green"],
            )
        ]
    return sorted(found.values(), key=lambda c: -c.score)


def _attribute_failure(error: str) -> str | None:
    """Which observed cause a run's error text points at (its evidence then lists the run)."""
    text = error.lower()
    if "missing column" in text or "contract" in text or "has type" in text:
        return SCHEMA_DRIFT
    if "report store" in text or "publishing the report failed" in text:
        if (
            "access denied" in text
            or "invalidaccesskeyid" in text
            or "signature" in text
            or "forbidden" in text
        ):
            return CREDENTIALS_REJECTED
        return STORAGE_UNREACHABLE
    if "is unavailable" in text:
        return SOURCE_UNREACHABLE
    return None
