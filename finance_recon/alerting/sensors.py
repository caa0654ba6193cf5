"""Alert sensors (cursor-based, RUNNING by default, every ~30 s) and the Finance notification.

- `asset_check_alert_sensor`: per check key, the latest *completed* evaluation
  (`get_latest_asset_check_execution_by_key`, falling back to the newest SUCCEEDED/FAILED row of
  `get_asset_check_execution_history` when the latest row is only PLANNED — a run in progress or
  blocked). Statuses and freshness states are compared by their stored values: Dagster does not
  export those enums (nothing is imported from its private modules).
  FAILED → incident `check:<asset>:<check>` (severity critical for ERROR, warning for WARN);
  SUCCEEDED → resolved. Dagster OSS raises nothing for failed checks by itself (dagster#29896).
- `freshness_alert_sensor`: the latest `FRESHNESS_STATE_CHANGE` per asset (the FreshnessDaemon
  writes them; `get_freshness_state_records`). FAIL → incident `freshness:<asset>`; PASS/WARN →
  resolved; UNKNOWN/NOT_APPLICABLE → no change.
- `run_failure_alert_sensor`: the latest finished run of the reconciliation job. FAILURE →
  incident `run:<job>` (one per failure streak, not per run or retry); SUCCESS → resolved. A run
  that failed because a blocking check failed is left to the check incident (it names table,
  column and rule), so one cause raises one alert.
- `dead_run_sensor`: a reconciliation run in flight whose process is gone from this host (pid and
  start time recorded when it took the run lock, `finance_recon/runs/`) is marked failed with the
  cause "process died" and its leftover children (dbt) are stopped, so the queue moves on without a
  person (Dagster's own run monitoring cannot check a DefaultRunLauncher worker's health).
- `finance_report_ready_sensor` (`@asset_sensor`): each new report materialization → one message to
  Finance with verdict, per-currency totals, breaks and link. A failed delivery raises, so Dagster keeps the
  cursor and the next tick retries.

State lives in each sensor's cursor (`IncidentBook`, JSON). Delivery: `AlertingResource`.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    EventLogEntry,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    asset_sensor,
    sensor,
)

from finance_recon.alerting.incidents import Incident, IncidentBook
from finance_recon.names import CHECK_ALERT, FRESHNESS_ALERT, REPORT_KEY, RUN_ALERT

SERVICE = "finance_recon"
MINIMUM_INTERVAL_SECONDS = 30


def _severity(check_severity: Any) -> str:
    return (
        "critical" if str(getattr(check_severity, "value", check_severity)).upper() == "ERROR" else "warning"
    )


def _annotations(alerting, summary: str, description: str) -> dict[str, str]:
    return {"summary": summary, "description": description[:2000], "runbook_url": alerting.runbook_url}


def _finish(context: SensorEvaluationContext, book: IncidentBook, firing, healthy) -> SkipReason:
    alerting = context.resources.alerting
    delivery = book.reconcile(firing, healthy, alerting, refresh_seconds=alerting.refresh_seconds)
    context.update_cursor(book.to_cursor())
    for error in delivery.errors:
        context.log.warning(f"alert delivery failed (retried next tick): {error}")
    return SkipReason(delivery.summary())


# --------------------------------------------------------------------------------------- checks

# The statuses of an asset check execution that carry a result (the stored values of Dagster's
# AssetCheckExecutionRecordStatus, which `dagster` does not export; the other one is PLANNED).
COMPLETED_CHECK_STATUSES = ("SUCCEEDED", "FAILED")
HISTORY_PAGE = 20


def _last_completed_check(storage, key: AssetCheckKey):
    """The newest execution of `key` that has a result, or None: the history is read newest first,
    a page at a time, past the PLANNED rows of runs in progress or blocked before the check ran."""
    cursor = None
    while True:
        page = storage.get_asset_check_execution_history(key, limit=HISTORY_PAGE, cursor=cursor)
        for record in page:
            if record.status.value in COMPLETED_CHECK_STATUSES:
                return record
        if len(page) < HISTORY_PAGE:
            return None
        cursor = page[-1].id


def check_incidents(
    instance, check_keys: Sequence[AssetCheckKey], alerting
) -> tuple[list[Incident], set[str]]:
    storage = instance.event_log_storage
    latest = storage.get_latest_asset_check_execution_by_key(list(check_keys))
    firing: list[Incident] = []
    healthy: set[str] = set()
    for key in check_keys:
        record = latest.get(key)
        if record is not None and record.status.value not in COMPLETED_CHECK_STATUSES:
            record = _last_completed_check(storage, key)
        if record is None:
            continue
        incident_id = f"check:{key.to_user_string()}"
        if record.status.value == "SUCCEEDED":
            healthy.add(incident_id)
            continue
        evaluation = record.event.dagster_event.event_specific_data if record.event else None
        severity = _severity(getattr(evaluation, "severity", "ERROR"))
        asset = key.asset_key.to_user_string()
        description = (getattr(evaluation, "description", None) or "check failed") + f" (run {record.run_id})"
        firing.append(
            Incident(
                id=incident_id,
                labels={
                    "alertname": CHECK_ALERT,
                    "severity": severity,
                    "asset": asset,
                    "check": key.name,
                    "service": SERVICE,
                },
                annotations=_annotations(alerting, f"Check {asset}:{key.name} failed", description),
                starts_at=datetime.fromtimestamp(record.create_timestamp, UTC),
            )
        )
    return firing, healthy


def build_check_alert_sensor(
    check_keys: Sequence[AssetCheckKey], name: str = "asset_check_alert_sensor"
) -> SensorDefinition:
    keys = sorted(set(check_keys), key=lambda k: k.to_user_string())

    @sensor(
        name=name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        required_resource_keys={"alerting"},
        description="One alert per failed asset check (Alertmanager and/or webhook), one resolve when it passes again.",
    )
    def _check_alerts(context: SensorEvaluationContext):
        book = IncidentBook.from_cursor(context.cursor)
        firing, healthy = check_incidents(context.instance, keys, context.resources.alerting)
        return _finish(context, book, firing, healthy)

    return _check_alerts


# ------------------------------------------------------------------------------------ freshness


def freshness_incidents(
    instance, asset_keys: Sequence[AssetKey], alerting
) -> tuple[list[Incident], set[str]]:
    records = instance.get_freshness_state_records(list(asset_keys))
    firing: list[Incident] = []
    healthy: set[str] = set()
    for key in asset_keys:
        record = records.get(key)
        if record is None:
            continue
        asset = key.to_user_string()
        incident_id = f"freshness:{asset}"
        state = record.freshness_state.value  # FreshnessState, which `dagster` does not export
        if state == "FAIL":
            firing.append(
                Incident(
                    id=incident_id,
                    labels={
                        "alertname": FRESHNESS_ALERT,
                        "severity": "critical",
                        "asset": asset,
                        "check": "freshness_policy",
                        "service": SERVICE,
                    },
                    annotations=_annotations(
                        alerting,
                        f"{asset} is older than its freshness SLA",
                        f"Dagster's freshness policy for {asset} is FAIL since "
                        f"{record.updated_at.astimezone(UTC).isoformat()}: no materialization inside the fail window.",
                    ),
                    starts_at=record.updated_at,
                )
            )
        elif state in ("PASS", "WARN"):
            healthy.add(incident_id)
    return firing, healthy


def build_freshness_alert_sensor(
    asset_keys: Sequence[AssetKey], name: str = "freshness_alert_sensor"
) -> SensorDefinition:
    keys = list(asset_keys)

    @sensor(
        name=name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        required_resource_keys={"alerting"},
        description="One alert when an asset's freshness state goes FAIL, one resolve when it is PASS/WARN again.",
    )
    def _freshness_alerts(context: SensorEvaluationContext):
        book = IncidentBook.from_cursor(context.cursor)
        firing, healthy = freshness_incidents(context.instance, keys, context.resources.alerting)
        return _finish(context, book, firing, healthy)

    return _freshness_alerts


# ----------------------------------------------------------------------------------------- runs


def _run_failure_cause(instance, run_id: str) -> tuple[bool, str]:
    """(covered by a failed blocking ERROR check?, the first real error in one line)."""
    from finance_recon.runs.facts import read_run_failure

    failure = read_run_failure(instance, run_id)
    if failure is None:
        return False, "run failed"
    return failure.covered_by_check, failure.cause


def run_incidents(instance, job_name: str, alerting, memo: dict[str, Any]) -> tuple[list[Incident], set[str]]:
    records = instance.get_run_records(
        RunsFilter(job_name=job_name, statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE]), limit=1
    )
    incident_id = f"run:{job_name}"
    if not records:
        return [], set()
    run = records[0].dagster_run
    if run.status == DagsterRunStatus.SUCCESS:
        return [], {incident_id}
    if memo.get("run_id") != run.run_id:  # read a failed run's logs once, not every tick
        covered, cause = _run_failure_cause(instance, run.run_id)
        memo.clear()
        memo.update(run_id=run.run_id, covered=covered, cause=cause)
    if memo["covered"]:
        return [], set()
    ended = records[0].end_time or records[0].update_timestamp.timestamp()
    return [
        Incident(
            id=incident_id,
            labels={
                "alertname": RUN_ALERT,
                "severity": "critical",
                "asset": REPORT_KEY.to_user_string(),
                "check": "run",
                "service": SERVICE,
            },
            annotations=_annotations(
                alerting, f"Run of {job_name} failed", f"{memo['cause']} (run {run.run_id})"
            ),
            starts_at=datetime.fromtimestamp(ended, UTC),
        )
    ], set()


def build_run_failure_alert_sensor(job_name: str, name: str = "run_failure_alert_sensor") -> SensorDefinition:
    @sensor(
        name=name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        required_resource_keys={"alerting"},
        description=f"One alert while the latest finished run of {job_name} is a failure, resolved by a success.",
    )
    def _run_alerts(context: SensorEvaluationContext):
        import json

        raw = json.loads(context.cursor) if context.cursor else {}
        book = IncidentBook.from_cursor(json.dumps(raw.get("book")) if raw.get("book") else None)
        memo = raw.get("last_failed_run", {})
        firing, healthy = run_incidents(context.instance, job_name, context.resources.alerting, memo)
        alerting = context.resources.alerting
        delivery = book.reconcile(firing, healthy, alerting, refresh_seconds=alerting.refresh_seconds)
        context.update_cursor(
            json.dumps({"book": json.loads(book.to_cursor()), "last_failed_run": memo}, sort_keys=True)
        )
        for error in delivery.errors:
            context.log.warning(f"alert delivery failed (retried next tick): {error}")
        return SkipReason(delivery.summary())

    return _run_alerts


# ------------------------------------------------------------------------------------ dead runs


def build_dead_run_sensor(name: str = "dead_run_sensor") -> SensorDefinition:
    @sensor(
        name=name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Mark a reconciliation run whose process died failed (cause: process died) and stop its children.",
    )
    def _dead_runs(context: SensorEvaluationContext):
        from finance_recon.runs.liveness import reap_dead_runs

        reaped = reap_dead_runs(context.instance, lock_held=False)
        if not reaped:
            return SkipReason("no dead reconciliation run")
        return SkipReason("marked failed: " + "; ".join(f"run {run_id}: {cause}" for run_id, cause in reaped))

    return _dead_runs


# ------------------------------------------------------------------------------ Finance notice


def _md(metadata: dict[str, Any], key: str, default: Any = "") -> Any:
    value = metadata.get(key, default)
    return getattr(value, "value", getattr(value, "url", value))


def finance_message(metadata: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Slack-compatible JSON for Finance: verdict, totals per currency, breaks and the report link."""
    verdict = _md(metadata, "verdict", "unknown")
    link = metadata.get("report")
    url = getattr(link, "url", None) or _md(metadata, "report", "")
    icon = {"reconciled": ":white_check_mark:", "reconciled_with_pending": ":hourglass:"}.get(
        verdict, ":warning:"
    )
    totals = list(_md(metadata, "totals_by_currency", []) or [])
    # One line per currency: amounts of different currencies are never added together.
    money = "\n".join(
        f"{t['currency']}: expected {t['total_expected']}, net {t['total_net']}, "
        f"break amount {t['break_amount']} ({t['break_count']} breaks)"
        for t in totals
    )
    text = (
        f"{icon} *Reconciliation report ready* — verdict *{verdict}* (as of {_md(metadata, 'as_of')})\n"
        f"Breaks {_md(metadata, 'breaks', 0)}\n" + (f"{money}\n" if money else "") + f"Report: {url}"
    )
    # Links that open (presigned HTTPS on S3, file:// for a folder store) beside the store URI.
    report_link = _md(metadata, "report_link", "")
    if report_link and report_link != url:
        expires = _md(metadata, "links_expire_at", "")
        text += f"\nOpen the report: {report_link}" + (f" (link valid until {expires})" if expires else "")
    if _md(metadata, "breaks_csv_link", ""):
        text += f"\nBreaks (CSV): {_md(metadata, 'breaks_csv_link')}"
    if _md(metadata, "report_uri", ""):
        text += f"\nStore URI: {_md(metadata, 'report_uri')}"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "report": {
            "run_id": run_id,
            "verdict": verdict,
            "as_of": _md(metadata, "as_of"),
            "totals_by_currency": totals,
            "breaks": _md(metadata, "breaks", 0),
            "url": url,
            "link": report_link or url,
            "breaks_csv_link": _md(metadata, "breaks_csv_link", ""),
            "links_expire_at": _md(metadata, "links_expire_at", ""),
        },
    }


def build_report_ready_sensor(
    report_key: AssetKey, name: str = "finance_report_ready_sensor"
) -> SensorDefinition:
    @asset_sensor(
        asset_key=report_key,
        name=name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        required_resource_keys={"alerting"},
        description="Tell Finance (FINANCE_RECON_FINANCE_WEBHOOK_URL) that a new report is ready.",
    )
    def _report_ready(context: SensorEvaluationContext, asset_event: EventLogEntry):
        alerting = context.resources.alerting
        if not alerting.has_finance_webhook:
            return SkipReason("FINANCE_RECON_FINANCE_WEBHOOK_URL is not set: nobody to tell")
        materialization = asset_event.asset_materialization
        metadata = dict(materialization.metadata) if materialization else {}
        # Raises DeliveryError on failure: Dagster then keeps the cursor and the next tick retries.
        alerting.to_finance(finance_message(metadata, asset_event.run_id))
        return SkipReason(f"told Finance that the report of run {asset_event.run_id} is ready")

    return _report_ready


def build_alert_sensors(
    check_keys: Sequence[AssetCheckKey],
    freshness_keys: Sequence[AssetKey],
    job_name: str,
    report_key: AssetKey,
) -> list[SensorDefinition]:
    return [
        build_check_alert_sensor(check_keys),
        build_freshness_alert_sensor(freshness_keys),
        build_run_failure_alert_sensor(job_name),
        build_report_ready_sensor(report_key),
        build_dead_run_sensor(),
    ]
