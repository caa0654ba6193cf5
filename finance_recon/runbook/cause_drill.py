"""`finance-recon drill --cause C`: provoke one runbook §5 cause for real, measure how long `diagnose`
takes to name it first and how long the platform takes to recover once it is removed.

    preflight  a fresh report (the job runs once when the newest one is older than half the SLA);
    inject     the fault, by pointing this process's environment (the job's resources and dbt read
               it) and the drill's settings (`settings_under`, the same variables) at a broken copy
               of the deployment:
                 source_lag            a copy of the embedded orders source, every updated_at 3 h back
                 schema_drift          a copy of the embedded payments source without `currency`
                 storage_full          the store behind a loopback S3 endpoint that answers writes 507
                 storage_unreachable   the store's endpoint on a loopback port nothing listens on
                 credentials_rejected  the store behind a loopback S3 endpoint that answers 403
                 job_failure           a warehouse target the dbt profile does not have
    provoke    the reconciliation job runs against the fault (it fails, except under source lag,
               where it succeeds on stale data);
    detect     `diagnose` is polled until it names the injected cause first (time-to-detect, from
               the injection);
    recover    the fault is removed, the job runs, `diagnose` is polled until the cause is gone and
               the report is within the SLA (time-to-recover, from the removal).

Nothing is changed in the real sources or the real store: source faults use copies (only of the
embedded DuckDB sources; server sources are the owners' to break), store faults a loopback endpoint
in front of (or instead of) the store. The environment is restored in `finally`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finance_recon.runbook import causes as C
from finance_recon.runbook.drill import JobRunner
from finance_recon.settings import (
    ENV_ORDERS_URL,
    ENV_PAYMENTS_URL,
    ENV_REPORTS_URI,
    ENV_S3_ENDPOINT_URL,
    ENV_WAREHOUSE_TARGET,
    Settings,
    environment_overrides,
    settings_under,
)

DRILL_CAUSES = (
    C.SOURCE_LAG,
    C.SCHEMA_DRIFT,
    C.STORAGE_FULL,
    C.STORAGE_UNREACHABLE,
    C.CREDENTIALS_REJECTED,
    C.JOB_FAILURE,
)
DRILL_BUCKET = "finance-reports"


class CauseDrillError(RuntimeError):
    """The drill cannot provoke this cause on this deployment (one line, says why)."""


@dataclass
class CauseDrillResult:
    cause: str
    started_at: datetime
    events: list[tuple[datetime, str, str]] = field(default_factory=list)
    injected_at: datetime | None = None
    detected_at: datetime | None = None
    removed_at: datetime | None = None
    recovered_at: datetime | None = None
    named: list[str] = field(default_factory=list)  # diagnose's ranking when it detected
    next_command: str | None = None
    ok: bool = False
    error: str | None = None

    def add(self, step: str, detail: str) -> datetime:
        at = datetime.now(UTC)
        self.events.append((at, step, detail))
        return at

    @property
    def time_to_detect_s(self) -> float | None:
        if self.injected_at and self.detected_at:
            return round((self.detected_at - self.injected_at).total_seconds(), 1)
        return None

    @property
    def time_to_recover_s(self) -> float | None:
        if self.removed_at and self.recovered_at:
            return round((self.recovered_at - self.removed_at).total_seconds(), 1)
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": self.error,
            "cause": self.cause,
            "started_at": self.started_at.isoformat(),
            "time_to_detect_s": self.time_to_detect_s,
            "time_to_recover_s": self.time_to_recover_s,
            "named": self.named,
            "next_command": self.next_command,
            "timeline": [
                {
                    "at": at.isoformat(),
                    "offset_s": round((at - self.started_at).total_seconds(), 1),
                    "step": s,
                    "detail": d,
                }
                for at, s, d in self.events
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def render(self) -> str:
        lines = [f"drill --cause {self.cause} started {self.started_at:%Y-%m-%d %H:%M:%S}Z", ""]
        for at, step, detail in self.events:
            offset = (at - self.started_at).total_seconds()
            lines.append(f"  +{int(offset // 60):d}:{offset % 60:04.1f}  {step:<10} {detail}")
        lines.append("")
        ttd, ttr = self.time_to_detect_s, self.time_to_recover_s
        lines.append(
            f"  time-to-detect  {'NOT DETECTED' if ttd is None else f'{ttd:.1f} s after the injection'}"
        )
        lines.append(
            f"  time-to-recover {'NOT RECOVERED' if ttr is None else f'{ttr:.1f} s after the removal'}"
        )
        lines.append("")
        lines.append("drill PASSED" if self.ok else f"drill FAILED: {self.error}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ faults


def _duckdb_copy(url: str, workdir: Path, variable: str, cause: str) -> Path:
    if not url.startswith("duckdb:///"):
        raise CauseDrillError(
            f"drill --cause {cause} copies the embedded DuckDB source, but {variable} points at a server; "
            "break a staging copy of that table instead (the root-cause tests show how)"
        )
    source = Path(url.removeprefix("duckdb:///"))
    if not source.is_file():
        raise CauseDrillError(
            f"drill --cause {cause}: {variable} file {source} does not exist (run finance-recon seed)"
        )
    target = workdir / source.name
    shutil.copy(source, target)
    return target


def _s3_store_env(settings: Settings, endpoint: str) -> dict[str, str]:
    """The store seen through `endpoint`. A local store becomes an S3 store there (with drill-only keys)."""
    env = {ENV_S3_ENDPOINT_URL: endpoint, "AWS_EC2_METADATA_DISABLED": "true"}
    if not settings.reports_are_s3:
        env[ENV_REPORTS_URI] = f"s3://{DRILL_BUCKET}/finance-reports"
        env.update(AWS_ACCESS_KEY_ID="finance-recon-drill", AWS_SECRET_ACCESS_KEY="finance-recon-drill")
    env.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    return env


@dataclass(frozen=True)
class Injected:
    """What `inject` did, and the deployment's settings as the fault makes them."""

    what: str
    settings: Settings


@contextmanager
def _overrides(settings: Settings, variables: dict[str, str]) -> Iterator[Settings]:
    """The fault's variables in this process's environment (for the job's resources and dbt) and in
    the settings handed to the job and to `diagnose`."""
    with environment_overrides(variables):
        yield settings_under(settings, variables)


@contextmanager
def inject(cause: str, settings: Settings, workdir: Path) -> Iterator[Injected]:
    """Apply the fault to this process's environment; yields what was done and the faulted settings.
    Removed on exit."""
    from finance_recon.runbook.faults import DOWN, FORBIDDEN, FULL, FaultyS3

    if cause == C.SOURCE_LAG:
        import duckdb

        copy = _duckdb_copy(settings.orders_url, workdir, ENV_ORDERS_URL, cause)
        with duckdb.connect(str(copy)) as conn:
            conn.execute("UPDATE orders SET updated_at = updated_at - INTERVAL 3 HOUR")
        with _overrides(settings, {ENV_ORDERS_URL: f"duckdb:///{copy}"}) as faulted:
            yield Injected(
                f"orders read from a copy ({copy}) whose every updated_at is 3 hours older", faulted
            )
    elif cause == C.SCHEMA_DRIFT:
        import duckdb

        copy = _duckdb_copy(settings.payments_url, workdir, ENV_PAYMENTS_URL, cause)
        with duckdb.connect(str(copy)) as conn:
            conn.execute("ALTER TABLE payments DROP COLUMN currency")
        with _overrides(settings, {ENV_PAYMENTS_URL: f"duckdb:///{copy}"}) as faulted:
            yield Injected(f"payments read from a copy ({copy}) without the column currency", faulted)
    elif cause in (C.STORAGE_FULL, C.STORAGE_UNREACHABLE, C.CREDENTIALS_REJECTED):
        mode = {C.STORAGE_FULL: FULL, C.STORAGE_UNREACHABLE: DOWN, C.CREDENTIALS_REJECTED: FORBIDDEN}[cause]
        upstream = settings.s3_endpoint_url if settings.reports_are_s3 else None
        with (
            FaultyS3(mode, upstream=upstream) as fault,
            _overrides(settings, _s3_store_env(settings, fault.endpoint)) as faulted,
        ):
            what = {
                FULL: "answers every write 507 InsufficientStorage"
                + (
                    f" (reads forwarded to {upstream})"
                    if upstream
                    else " (and every read: no store behind it)"
                ),
                DOWN: "refuses connections",
                FORBIDDEN: "answers every request 403 AccessDenied",
            }[mode]
            yield Injected(f"report store behind {fault.endpoint}, which {what}", faulted)
    elif cause == C.JOB_FAILURE:
        with _overrides(settings, {ENV_WAREHOUSE_TARGET: "no_such_target"}) as faulted:
            yield Injected(
                "warehouse target no_such_target (not in the dbt profile): the dbt step cannot start", faulted
            )
    else:
        raise CauseDrillError(f"drill --cause {cause!r}: expected one of {', '.join(DRILL_CAUSES)}")


# ------------------------------------------------------------------------------------------- drill


def run_cause_drill(
    settings: Settings,
    cause: str,
    *,
    run_job: JobRunner,
    echo: Callable[[str], None] = lambda line: None,
    poll_seconds: float = 2.0,
    detect_timeout_s: float = 120.0,
    recover_timeout_s: float = 300.0,
) -> CauseDrillResult:
    from finance_recon.runbook.diagnose import diagnose

    result = CauseDrillResult(cause=cause, started_at=datetime.now(UTC))

    def note(step: str, detail: str) -> datetime:
        at = result.add(step, detail)
        offset = (at - result.started_at).total_seconds()
        echo(f"  +{int(offset // 60):d}:{offset % 60:04.1f}  {step:<10} {detail}")
        return at

    def look(current: Settings = settings):
        return diagnose(current, write_probe=True)

    try:
        if cause not in DRILL_CAUSES:
            raise CauseDrillError(f"drill --cause {cause!r}: expected one of {', '.join(DRILL_CAUSES)}")
        before = look()
        if before.report_age_minutes is None or before.report_age_minutes > settings.sla_minutes / 2:
            note("preflight", "no recent report: running the job once to start from a fresh one")
            run_id, success, why = run_job(settings)
            if not success:
                raise CauseDrillError(f"preflight run {run_id} failed: {why}")
            before = look()
        if cause in [c.code for c in before.causes]:
            raise CauseDrillError(
                f"{cause} is already present before the injection: {before.causes[0].evidence}"
            )
        note(
            "preflight",
            f"report {before.report_age_minutes:.1f} min old; diagnose names {before.likely_cause.code}",
        )

        with (
            tempfile.TemporaryDirectory(prefix="finance-recon-drill-") as tmp,
            inject(cause, settings, Path(tmp)) as injected,
        ):
            result.injected_at = note("inject", injected.what)
            run_id, success, why = run_job(injected.settings)
            note(
                "provoke", f"run {run_id} {'SUCCESS' if success else 'FAILURE'}" + (f": {why}" if why else "")
            )
            deadline = time.monotonic() + detect_timeout_s
            while True:
                seen = look(injected.settings)
                if seen.likely_cause.code == cause:
                    result.detected_at = note(
                        "detected", f"diagnose names {cause} first: {seen.likely_cause.evidence[0]}"
                    )
                    result.named = [c.code for c in seen.causes]
                    result.next_command = seen.likely_cause.next_command
                    note("next", f"$ {result.next_command}")
                    break
                if time.monotonic() > deadline:
                    raise CauseDrillError(
                        f"diagnose did not name {cause} first within {detect_timeout_s:g}s "
                        f"(it names {[c.code for c in seen.causes]})"
                    )
                time.sleep(poll_seconds)
        result.removed_at = note(
            "remove", "fault removed: the deployment's own sources, store and target again"
        )
        run_id, success, why = run_job(settings)
        note("restart", f"run {run_id} {'SUCCESS' if success else 'FAILURE'}" + (f": {why}" if why else ""))
        deadline = time.monotonic() + recover_timeout_s
        while True:
            after = look()
            if cause not in [c.code for c in after.causes] and not after.sla_breached:
                result.recovered_at = note(
                    "recovered",
                    f"{cause} gone; report {after.report_age_minutes:.1f} min old; diagnose names {after.likely_cause.code}",
                )
                break
            if time.monotonic() > deadline:
                raise CauseDrillError(
                    f"{cause} still named {recover_timeout_s:g}s after the fault was removed"
                )
            time.sleep(poll_seconds)
        result.ok = True
        note("done", "detected and recovered")
    except CauseDrillError as exc:
        result.error = str(exc)
        note("failed", result.error)
    return result
