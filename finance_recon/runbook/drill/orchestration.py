"""The drill's sequence: preflight, hold, detect, restart, recover (the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from finance_recon.names import SCHEDULE_NAME
from finance_recon.runbook.drill.detectors import (
    Detector,
    ExporterAge,
    FreshnessFail,
    PrometheusAlert,
    freshness_daemon_running,
)
from finance_recon.runbook.drill.result import DrillOptions, DrillResult
from finance_recon.runbook.drill.schedule import ScheduleHold
from finance_recon.settings import Settings, ensure_dagster_home

# Runs the reconciliation once: (run id, success, cause of a failure). The CLI passes its own.
JobRunner = Callable[[Settings], tuple[str, bool, str | None]]


def _wait(
    detectors: list[Detector],
    want: bool,
    deadline: float,
    poll: float,
    seen: dict[str, datetime],
    on_change: Callable[[Detector], None],
) -> bool:
    """Poll until every detector reads `want` (bounded by `deadline`); record first times in `seen`."""
    while True:
        for d in detectors:
            if d.name not in seen and d.breached() is want:
                seen[d.name] = datetime.now(UTC)
                on_change(d)
        if all(d.name in seen for d in detectors):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)


def run_drill(
    settings: Settings,
    options: DrillOptions,
    *,
    run_job: JobRunner,
    echo: Callable[[str], None] = lambda line: None,
) -> DrillResult:
    ensure_dagster_home(settings)
    result = DrillResult(started_at=datetime.now(UTC), sla_minutes=options.sla_minutes)

    def note(step: str, detail: str) -> None:
        event = result.add(step, detail)
        offset = (event.at - result.started_at).total_seconds()
        echo(f"  +{int(offset // 60):d}:{offset % 60:04.1f}  {step:<10} {detail}")

    exporter = ExporterAge(settings, options.sla_minutes, options.metrics_url)
    detectors: list[Detector] = [exporter]
    if freshness_daemon_running():
        detectors.append(FreshnessFail())
    if options.prometheus_url:
        detectors.append(PrometheusAlert(options.prometheus_url))
    result.detectors = [d.name for d in detectors]
    note("start", "detectors: " + "; ".join(d.describe() for d in detectors))

    hold: ScheduleHold | None = None
    if options.dagster_url:
        hold = ScheduleHold(options.dagster_url, SCHEDULE_NAME)
    try:
        _preflight(settings, options, detectors, exporter, run_job, note)
        if hold is not None:
            note("hold", hold.stop())
        else:
            from dagster import DagsterInstance

            with DagsterInstance.get() as instance:
                scheduler = instance.get_daemon_heartbeats().get("SCHEDULER")
            live = scheduler is not None and time.time() - scheduler.timestamp < 120
            note(
                "hold",
                "the drill does not run the job"
                + (
                    "; WARNING: a scheduler daemon is alive on this instance and may run it (pass --dagster-url to "
                    "stop its schedule)"
                    if live
                    else "; no scheduler daemon alive on this instance"
                ),
            )

        from finance_recon.metrics.latest import read_latest

        report = read_latest(settings)
        result.breach_at = report.run_ended_at + timedelta(minutes=options.sla_minutes)
        note(
            "baseline",
            f"newest report {report.run_id} ended {report.run_ended_at:%H:%M:%S}Z; "
            f"the SLA breaks at {result.breach_at:%H:%M:%S}Z",
        )

        detect_timeout = options.detect_timeout_s or options.sla_minutes * 60 + 600
        detected = _wait(
            detectors,
            True,
            time.monotonic()
            + max(0.0, (result.breach_at - datetime.now(UTC)).total_seconds())
            + detect_timeout,
            options.poll_seconds,
            result.detected,
            lambda d: note("detected", f"{d.name}: breach seen" + _age_note(d, exporter)),
        )
        if not detected:
            missing = [d.name for d in detectors if d.name not in result.detected]
            raise DrillFailed(
                f"breach not detected by {', '.join(missing)} within {detect_timeout:g}s of the SLA mark"
            )

        result.restart_at = datetime.now(UTC)
        note("restart", "running the reconciliation job")
        run_id, success, cause = run_job(settings)
        result.run_id = run_id
        if not success:
            raise DrillFailed(f"the restart run {run_id} failed: {cause}")
        note("run", f"{run_id} SUCCESS")
        if hold is not None:
            message = hold.restore()
            if message:
                note("restart", message)

        recovered = _wait(
            detectors,
            False,
            time.monotonic() + options.recover_timeout_s,
            options.poll_seconds,
            result.recovered,
            lambda d: note("recovered", f"{d.name}: back within the SLA" + _age_note(d, exporter)),
        )
        if not recovered:
            missing = [d.name for d in detectors if d.name not in result.recovered]
            raise DrillFailed(
                f"{', '.join(missing)} still breached {options.recover_timeout_s:g}s after the restart"
            )
        result.ok = True
        note("done", "detected and recovered")
    except DrillFailed as exc:
        result.error = str(exc)
        note("failed", result.error)
    finally:
        if hold is not None and hold.stopped:
            try:
                message = hold.restore()
                if message:
                    note("restore", message)
            except Exception as exc:  # noqa: BLE001 - say it loudly, the operator must restart it by hand
                note("restore", f"COULD NOT restart the schedule: {exc}")
    return result


def _age_note(detector: Detector, exporter: ExporterAge) -> str:
    """The exporter's last age beside its own change of state."""
    if detector is exporter and exporter.last_age is not None:
        return f" (age {exporter.last_age:.2f} min)"
    return ""


class DrillFailed(RuntimeError):
    pass


def _preflight(settings, options, detectors, exporter, run_job, note) -> None:
    """Start from a healthy state: a report within the SLA and no detector reading a breach."""
    # With a scraped exporter, the preflight still judges by the store itself.
    local = exporter if not options.metrics_url else ExporterAge(settings, options.sla_minutes, None)
    age = local.age()
    if age is None or age > options.sla_minutes * 0.5:
        note(
            "preflight",
            "no recent report: running the job once to start from a healthy state"
            if age is None
            else f"report is {age:.2f} min old: running the job once to start from a healthy state",
        )
        run_id, success, cause = run_job(settings)
        if not success:
            raise DrillFailed(f"preflight run {run_id} failed: {cause}")
        note("preflight", f"run {run_id} SUCCESS")
    clear: dict[str, datetime] = {}
    ok = _wait(detectors, False, time.monotonic() + 300, options.poll_seconds, clear, lambda d: None)
    if not ok:
        stuck = [d.name for d in detectors if d.name not in clear]
        raise DrillFailed(f"preflight: {', '.join(stuck)} still report a breach on a fresh report")
    note("preflight", "healthy: every detector within the SLA")
