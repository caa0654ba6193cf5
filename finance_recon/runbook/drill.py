"""Runbook §4 automated: prove that a late report is detected and that a rerun clears it.

    preflight  the drill starts healthy: a report younger than the SLA (else the job runs once first)
               and every detector reading "not breached";
    hold       no reconciliation runs: with a Dagster webserver (`dagster_url`) the schedule is stopped
               through its GraphQL API; without one nothing here runs the job (a daemon elsewhere
               would still fire its schedule — the drill says so);
    detect     wait until every active detector reports the breach:
                 - exporter: `finance_reconciliation_age_minutes` > SLA, scraped from the exporter
                   (`metrics_url`) or computed exactly as the exporter does (`read_latest`);
                 - freshness: the FreshnessDaemon recorded FAIL for the report in the instance (active
                   when a FRESHNESS_DAEMON heartbeat is fresh; it judges by the code location's policy,
                   i.e. FINANCE_RECON_SLA_MINUTES of the running daemon);
                 - prometheus: alert `FinanceReconciliationLagHigh` firing (`prometheus_url`; the rule
                   loaded there decides the threshold);
    restart    run the job (in-process, recorded in the instance like any run) and restart the schedule;
    recover    wait until every detector clears.

The timeline records each step; time-to-detect is measured from the moment the report crossed the
SLA (its run_ended_at + SLA), time-to-recover from the restart. The schedule is restarted in
`finally` whatever happens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from finance_recon.names import LAG_ALERT, REPORT_KEY, SCHEDULE_NAME
from finance_recon.settings import Settings, ensure_dagster_home

AGE_METRIC = "finance_reconciliation_age_minutes"
LOCATION = "finance_recon"
REPOSITORY = "__repository__"


@dataclass
class DrillOptions:
    sla_minutes: float
    metrics_url: str | None = None
    prometheus_url: str | None = None
    dagster_url: str | None = None
    poll_seconds: float = 2.0
    detect_timeout_s: float | None = None  # default: SLA + 10 min
    recover_timeout_s: float = 900.0


@dataclass
class Event:
    at: datetime
    step: str
    detail: str


@dataclass
class DrillResult:
    started_at: datetime
    sla_minutes: float
    events: list[Event] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    breach_at: datetime | None = None
    restart_at: datetime | None = None
    detected: dict[str, datetime] = field(default_factory=dict)
    recovered: dict[str, datetime] = field(default_factory=dict)
    run_id: str | None = None
    ok: bool = False
    error: str | None = None

    def add(self, step: str, detail: str, at: datetime | None = None) -> Event:
        event = Event(at or datetime.now(UTC), step, detail)
        self.events.append(event)
        return event

    def time_to_detect(self) -> dict[str, float]:
        if not self.breach_at:
            return {}
        return {k: round((v - self.breach_at).total_seconds(), 1) for k, v in self.detected.items()}

    def time_to_recover(self) -> dict[str, float]:
        if not self.restart_at:
            return {}
        return {k: round((v - self.restart_at).total_seconds(), 1) for k, v in self.recovered.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": self.error,
            "sla_minutes": self.sla_minutes,
            "started_at": self.started_at.isoformat(),
            "detectors": self.detectors,
            "breach_at": self.breach_at.isoformat() if self.breach_at else None,
            "restart_at": self.restart_at.isoformat() if self.restart_at else None,
            "run_id": self.run_id,
            "time_to_detect_s": self.time_to_detect(),
            "time_to_recover_s": self.time_to_recover(),
            "timeline": [
                {
                    "at": e.at.isoformat(),
                    "offset_s": round((e.at - self.started_at).total_seconds(), 1),
                    "step": e.step,
                    "detail": e.detail,
                }
                for e in self.events
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def render(self) -> str:
        lines = [f"drill (SLA {self.sla_minutes:g} min) started {self.started_at:%Y-%m-%d %H:%M:%S}Z", ""]
        for e in self.events:
            offset = (e.at - self.started_at).total_seconds()
            lines.append(f"  +{int(offset // 60):d}:{offset % 60:04.1f}  {e.step:<10} {e.detail}")
        lines.append("")
        ttd, ttr = self.time_to_detect(), self.time_to_recover()
        for name in self.detectors:
            d = f"{ttd[name]:.1f} s after the breach" if name in ttd else "NOT DETECTED"
            r = f"{ttr[name]:.1f} s after the restart" if name in ttr else "NOT RECOVERED"
            lines.append(f"  {name:<11} time-to-detect {d:<28} time-to-recover {r}")
        lines.append("")
        lines.append("drill PASSED" if self.ok else f"drill FAILED: {self.error}")
        return "\n".join(lines)


# -------------------------------------------------------------------------------------- detectors


class Detector:
    """`breached()` → True / False, or None when it cannot tell right now (treated as "not yet")."""

    name = "detector"

    def describe(self) -> str:
        return self.name

    def breached(self) -> bool | None:
        raise NotImplementedError


class ExporterAge(Detector):
    name = "exporter"

    def __init__(self, settings: Settings, sla_minutes: float, metrics_url: str | None):
        self.settings, self.sla, self.url = settings, sla_minutes, metrics_url
        self.last_age: float | None = None

    def describe(self) -> str:
        source = (
            f"scraped from {self.url}"
            if self.url
            else "computed from the newest manifest as the exporter does"
        )
        return f"exporter: {AGE_METRIC} > {self.sla:g} ({source})"

    def age(self) -> float | None:
        if self.url:
            return scrape_gauge(self.url, AGE_METRIC)
        from finance_recon.metrics.latest import read_latest

        report = read_latest(self.settings)
        return None if report is None else report.age_seconds() / 60

    def breached(self) -> bool | None:
        try:
            self.last_age = self.age()
        except Exception:  # noqa: BLE001 - an exporter restarting is "cannot tell", not a crash
            return None
        return None if self.last_age is None else self.last_age > self.sla


class FreshnessFail(Detector):
    name = "freshness"

    def describe(self) -> str:
        return "freshness: the FreshnessDaemon recorded FAIL for finance_reconciliation_report"

    def state(self) -> str | None:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            record = instance.get_freshness_state_records([REPORT_KEY]).get(REPORT_KEY)
        return record.freshness_state.value if record else None

    def breached(self) -> bool | None:
        state = self.state()
        if state in (None, "UNKNOWN", "NOT_APPLICABLE"):
            return None
        return state == "FAIL"


class PrometheusAlert(Detector):
    name = "prometheus"

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def describe(self) -> str:
        return f"prometheus: alert {LAG_ALERT} firing at {self.url}"

    def breached(self) -> bool | None:
        try:
            response = requests.get(f"{self.url}/api/v1/alerts", timeout=5)
            response.raise_for_status()
        except requests.RequestException:
            return None
        alerts = response.json().get("data", {}).get("alerts", [])
        return any(
            a.get("labels", {}).get("alertname") == LAG_ALERT and a.get("state") == "firing" for a in alerts
        )


def scrape_gauge(url: str, name: str) -> float | None:
    """The value of an unlabelled gauge in a Prometheus text exposition (None when absent)."""
    response = requests.get(url, timeout=5)
    response.raise_for_status()
    for line in response.text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{}"):
            return float(line.rsplit(" ", 1)[1])  # float ok: seconds on the drill timeline
    return None


def freshness_daemon_running(max_silence_s: float = 120) -> bool:
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        heartbeat = instance.get_daemon_heartbeats().get("FRESHNESS_DAEMON")
    return heartbeat is not None and time.time() - heartbeat.timestamp < max_silence_s


# ---------------------------------------------------------------------------------------- schedule


class ScheduleHold:
    """Stops the reconciliation schedule through the webserver's GraphQL API, and starts it again."""

    def __init__(self, dagster_url: str, schedule_name: str):
        self.url = dagster_url.rstrip("/") + "/graphql"
        self.selector = {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "scheduleName": schedule_name,
        }
        self.was_running = False
        self.stopped = False

    def _gql(self, query: str, **variables) -> dict:
        response = requests.post(self.url, json={"query": query, "variables": variables}, timeout=30)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL error: {body['errors']}")
        return body["data"]

    def status(self) -> tuple[str, str | None]:
        data = self._gql(
            "query($s: ScheduleSelector!) { scheduleOrError(scheduleSelector: $s) { __typename "
            "... on Schedule { scheduleState { id selectorId status } } ... on PythonError { message } } }",
            s=self.selector,
        )["scheduleOrError"]
        if data["__typename"] != "Schedule":
            raise RuntimeError(f"schedule {self.selector['scheduleName']}: {data}")
        state = data["scheduleState"]
        return state["status"], state["id"]

    def stop(self) -> str:
        status, state_id = self.status()
        self.was_running = status == "RUNNING"
        if not self.was_running:
            return f"schedule {self.selector['scheduleName']} already {status}"
        result = self._gql(
            "mutation($id: String!) { stopRunningSchedule(id: $id) { __typename ... on PythonError { message } } }",
            id=state_id,
        )["stopRunningSchedule"]
        if result["__typename"] == "PythonError":
            raise RuntimeError(result["message"])
        self.stopped = True
        return f"schedule {self.selector['scheduleName']} stopped via {self.url}"

    def restore(self) -> str | None:
        if not self.stopped:
            return None
        result = self._gql(
            "mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) { __typename "
            "... on PythonError { message } } }",
            s=self.selector,
        )["startSchedule"]
        if result["__typename"] == "PythonError":
            raise RuntimeError(result["message"])
        self.stopped = False
        return f"schedule {self.selector['scheduleName']} started again"


# -------------------------------------------------------------------------------------------- drill


def _run_job(settings: Settings) -> tuple[str, bool, str | None]:
    from finance_recon.cli.pipeline import RunRequestOptions, execute

    outcome = execute(RunRequestOptions(), settings)
    return outcome.run_id, outcome.success, outcome.cause


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
    run_job: Callable[[Settings], tuple[str, bool, str | None]] = _run_job,
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
            lambda d: note(
                "detected",
                f"{d.name}: breach seen"
                + (
                    f" (age {exporter.last_age:.2f} min)"
                    if d is exporter and exporter.last_age is not None
                    else ""
                ),
            ),
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
            lambda d: note(
                "recovered",
                f"{d.name}: back within the SLA"
                + (
                    f" (age {exporter.last_age:.2f} min)"
                    if d is exporter and exporter.last_age is not None
                    else ""
                ),
            ),
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


class DrillFailed(RuntimeError):
    pass


def _preflight(settings, options, detectors, exporter, run_job, note) -> None:
    """Start from a healthy state: a report within the SLA and no detector reading a breach."""
    age = exporter.age() if not options.metrics_url else _local_age(settings)
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


def _local_age(settings) -> float | None:
    from finance_recon.metrics.latest import read_latest

    report = read_latest(settings)
    return None if report is None else report.age_seconds() / 60
