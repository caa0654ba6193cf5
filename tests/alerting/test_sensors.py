"""The alert sensors on an ephemeral instance, delivering to real HTTP receivers on 127.0.0.1.

Each test drives real Dagster events (a tiny job whose check or step fails on demand, freshness
state changes reported as the FreshnessDaemon reports them), then ticks the sensor with
`build_sensor_context`, carrying the cursor from tick to tick as the daemon does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    build_sensor_context,
    define_asset_job,
)

from finance_recon.alerting.resources import AlertingResource
from finance_recon.alerting.sensors import (
    CHECK_ALERT,
    FRESHNESS_ALERT,
    RUN_ALERT,
    build_check_alert_sensor,
    build_freshness_alert_sensor,
    build_report_ready_sensor,
    build_run_failure_alert_sensor,
)

RUNBOOK = "https://runbooks.example/finance-reconciliation-delay"
JOB = "finance_reconciliation"
CHECK_KEY = AssetCheckKey(AssetKey("orders"), "contract")

# What the tiny pipeline does on its next run (each test sets it).
BEHAVIOUR = {"check": "pass", "step_fails": False}


@asset(name="orders")
def tiny_orders() -> MaterializeResult:
    if BEHAVIOUR["step_fails"]:
        raise RuntimeError(
            "source mysql+pymysql://root@127.0.0.1:3306/oltp is unavailable: connection refused"
        )
    return MaterializeResult(metadata={"max_updated_at": datetime.now(UTC).isoformat()})


@asset_check(asset=tiny_orders, name="contract", blocking=True)
def tiny_contract() -> AssetCheckResult:
    mode = BEHAVIOUR["check"]
    if mode == "pass":
        return AssetCheckResult(passed=True)
    return AssetCheckResult(
        passed=False,
        severity=AssetCheckSeverity.ERROR if mode == "error" else AssetCheckSeverity.WARN,
        description="orders.currency violates 'ISO 4217 currency, 3 upper-case letters': 1 unexpected, e.g. 'usd'",
    )


@asset(name="finance_reconciliation_report", deps=[tiny_orders])
def tiny_report() -> MaterializeResult:
    return MaterializeResult(
        metadata={
            "verdict": "breaks",
            "as_of": "2026-11-28T18:00:00+00:00",
            "totals_by_currency": MetadataValue.json(
                [
                    {
                        "currency": "EUR",
                        "total_expected": "99.00",
                        "total_net": "99.00",
                        "break_amount": "0.00",
                        "break_count": 0,
                    },
                    {
                        "currency": "USD",
                        "total_expected": "1234.50",
                        "total_net": "1200.00",
                        "break_amount": "34.50",
                        "break_count": 3,
                    },
                ]
            ),  # fmt: skip
            "breaks": 3,
            "report": MetadataValue.url("file:///reports/finance-reports/dt=2026-11-28/run=x/summary.html"),
        }
    )


DEFS = Definitions(
    assets=[tiny_orders, tiny_report],
    asset_checks=[tiny_contract],
    jobs=[define_asset_job(JOB, tags={"finance_recon/pipeline": "reconciliation"})],
)


def run_pipeline(instance, *, check: str = "pass", step_fails: bool = False) -> bool:
    BEHAVIOUR.update(check=check, step_fails=step_fails)
    result = DEFS.resolve_job_def(JOB).execute_in_process(instance=instance, raise_on_error=False)
    return result.success


def alerting(receiver, **overrides) -> AlertingResource:
    fields = {
        "alertmanager_url": receiver.url,
        "alert_webhook_url": f"{receiver.url}/hooks/T000/B000/secret",
        "finance_webhook_url": f"{receiver.url}/finance/T000/B000/secret",
        "runbook_url": RUNBOOK,
        "refresh_seconds": 3600.0,  # no heartbeat re-posts inside a test (tested separately)
    }
    fields.update(overrides)
    return AlertingResource(**fields)


def tick(sensor_def, instance, resource, cursor):
    context = build_sensor_context(instance=instance, resources={"alerting": resource}, cursor=cursor)
    data = sensor_def.evaluate_tick(context)
    return data.cursor, data


def am_alerts(receiver) -> list[dict]:
    return [alert for body in receiver.bodies("/api/v2/alerts") for alert in body]


def hooks(receiver) -> list[dict]:
    return receiver.bodies("/hooks/T000/B000/secret")


# ------------------------------------------------------------------------------------- checks


def test_failed_check_fires_once_and_resolves_once(instance, receiver):
    sensor_def = build_check_alert_sensor([CHECK_KEY])
    resource = alerting(receiver)

    assert run_pipeline(instance, check="pass")
    cursor, _ = tick(sensor_def, instance, resource, None)
    assert receiver.requests == []  # healthy: nothing to say

    assert not run_pipeline(instance, check="error")  # blocking ERROR check fails the run
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    [fired] = am_alerts(receiver)
    assert fired["labels"] == {
        "alertname": CHECK_ALERT,
        "severity": "critical",
        "asset": "orders",
        "check": "contract",
        "service": "finance_recon",
    }
    assert fired["annotations"]["runbook_url"] == RUNBOOK
    assert "orders.currency" in fired["annotations"]["description"]
    assert "ISO 4217" in fired["annotations"]["description"]
    assert fired["annotations"]["summary"] == "Check orders:contract failed"
    assert "endsAt" not in fired
    [hook] = hooks(receiver)
    assert "[FIRING]" in hook["text"] and "orders.currency" in hook["text"]

    # Repeated ticks and a second failing run (a retry) are the same incident: nothing new.
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert not run_pipeline(instance, check="error")
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert len(am_alerts(receiver)) == 1 and len(hooks(receiver)) == 1

    assert run_pipeline(instance, check="pass")
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    alerts = am_alerts(receiver)
    assert len(alerts) == 2
    resolved = alerts[1]
    assert resolved["labels"] == fired["labels"] and "endsAt" in resolved
    assert datetime.fromisoformat(resolved["endsAt"].replace("Z", "+00:00")) <= datetime.now(UTC)
    assert len(hooks(receiver)) == 2 and "[RESOLVED]" in hooks(receiver)[1]["text"]

    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert len(receiver.requests) == 4  # 1 fire + 1 resolve per receiver, nothing more


def test_delivery_failure_is_retried_without_duplicates(instance, receiver):
    sensor_def = build_check_alert_sensor([CHECK_KEY])
    resource = alerting(receiver)
    run_pipeline(instance, check="error")

    receiver.status = 503  # both receivers refuse
    cursor, _ = tick(sensor_def, instance, resource, None)
    assert receiver.requests == []
    receiver.status = 200
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert len(am_alerts(receiver)) == 1 and len(hooks(receiver)) == 1


def test_firing_alert_is_re_posted_to_alertmanager_only(instance, receiver):
    """Alertmanager expires alerts that are not re-posted; the webhook must not hear it twice."""
    sensor_def = build_check_alert_sensor([CHECK_KEY])
    resource = alerting(receiver, refresh_seconds=0.0)
    run_pipeline(instance, check="error")
    cursor, _ = tick(sensor_def, instance, resource, None)
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert (
        len(am_alerts(receiver)) == 2 and am_alerts(receiver)[0]["labels"] == am_alerts(receiver)[1]["labels"]
    )
    assert len(hooks(receiver)) == 1


def test_warn_check_escalating_to_error_replaces_the_alert(instance, receiver):
    sensor_def = build_check_alert_sensor([CHECK_KEY])
    resource = alerting(receiver)
    run_pipeline(instance, check="warn")
    cursor, _ = tick(sensor_def, instance, resource, None)
    assert [a["labels"]["severity"] for a in am_alerts(receiver)] == ["warning"]
    run_pipeline(instance, check="error")
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    alerts = am_alerts(receiver)
    assert [(a["labels"]["severity"], "endsAt" in a) for a in alerts] == [
        ("warning", False),
        ("warning", True),
        ("critical", False),
    ]


@pytest.mark.parametrize("page", [20, 1])
def test_a_check_left_planned_by_later_runs_reports_its_last_completed_evaluation(
    instance, receiver, monkeypatch, page
):
    """Runs that fail before the check runs leave it PLANNED; the alert keeps the last result (also
    when the PLANNED rows fill whole pages of the history)."""
    from finance_recon.alerting import sensors

    monkeypatch.setattr(sensors, "HISTORY_PAGE", page)
    sensor_def = build_check_alert_sensor([CHECK_KEY])
    resource = alerting(receiver)
    assert not run_pipeline(instance, check="error")
    assert not run_pipeline(instance, step_fails=True)  # the check is planned, never evaluated
    assert not run_pipeline(instance, step_fails=True)
    [latest] = instance.event_log_storage.get_latest_asset_check_execution_by_key([CHECK_KEY]).values()
    assert latest.status.value == "PLANNED"
    _, _ = tick(sensor_def, instance, resource, None)
    [fired] = am_alerts(receiver)
    assert fired["labels"]["check"] == "contract" and "ISO 4217" in fired["annotations"]["description"]

    receiver.clear()
    assert run_pipeline(instance, check="pass")
    firing, healthy = sensors.check_incidents(instance, [CHECK_KEY], resource)
    assert firing == [] and healthy == {"check:orders:contract"}


def test_no_receivers_configured_keeps_quiet(instance, receiver):
    sensor_def = build_check_alert_sensor([CHECK_KEY])
    resource = AlertingResource(runbook_url=RUNBOOK)
    run_pipeline(instance, check="error")
    _, data = tick(sensor_def, instance, resource, None)
    assert receiver.requests == [] and data.skip_message


# ---------------------------------------------------------------------------------- freshness


def _freshness(instance, key: AssetKey, previous: str, new: str) -> None:
    from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

    instance.report_runless_asset_event(
        FreshnessStateChange(
            key=key,
            previous_state=FreshnessState(previous),
            new_state=FreshnessState(new),
            state_change_timestamp=datetime.now(UTC).timestamp(),
        )
    )


def test_freshness_fail_fires_once_and_resolves(instance, receiver):
    report = AssetKey("finance_reconciliation_report")
    sensor_def = build_freshness_alert_sensor([AssetKey("orders"), report])
    resource = alerting(receiver)

    _freshness(instance, report, "UNKNOWN", "PASS")
    cursor, _ = tick(sensor_def, instance, resource, None)
    _freshness(instance, report, "PASS", "WARN")
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert receiver.requests == []  # WARN is not an incident

    _freshness(instance, report, "WARN", "FAIL")
    for _ in range(3):
        cursor, _ = tick(sensor_def, instance, resource, cursor)
    [fired] = am_alerts(receiver)
    assert fired["labels"]["alertname"] == FRESHNESS_ALERT
    assert fired["labels"]["asset"] == "finance_reconciliation_report"
    assert fired["labels"]["check"] == "freshness_policy"
    assert len(hooks(receiver)) == 1

    _freshness(instance, report, "FAIL", "PASS")
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    alerts = am_alerts(receiver)
    assert len(alerts) == 2 and "endsAt" in alerts[1]
    assert len(hooks(receiver)) == 2


# --------------------------------------------------------------------------------------- runs


def test_run_failure_fires_once_per_streak_and_resolves(instance, receiver):
    sensor_def = build_run_failure_alert_sensor(JOB)
    resource = alerting(receiver)

    assert not run_pipeline(instance, step_fails=True)
    cursor, _ = tick(sensor_def, instance, resource, None)
    assert not run_pipeline(instance, step_fails=True)  # a second failure: same incident
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    [fired] = am_alerts(receiver)
    assert fired["labels"]["alertname"] == RUN_ALERT
    assert "step orders failed" in fired["annotations"]["description"]
    assert "connection refused" in fired["annotations"]["description"]
    assert len(hooks(receiver)) == 1

    assert run_pipeline(instance)
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert len(am_alerts(receiver)) == 2 and "endsAt" in am_alerts(receiver)[1]


def test_run_failed_by_a_blocking_check_is_left_to_the_check_alert(instance, receiver):
    sensor_def = build_run_failure_alert_sensor(JOB)
    resource = alerting(receiver)
    assert not run_pipeline(instance, check="error")
    cursor, _ = tick(sensor_def, instance, resource, None)
    assert receiver.requests == []


# ------------------------------------------------------------------------------ Finance notice


def test_report_ready_tells_finance_once(instance, receiver):
    sensor_def = build_report_ready_sensor(AssetKey("finance_reconciliation_report"))
    resource = alerting(receiver)
    assert run_pipeline(instance)

    cursor, _ = tick(sensor_def, instance, resource, None)
    [message] = receiver.bodies("/finance/T000/B000/secret")
    assert message["report"]["verdict"] == "breaks"
    usd = next(t for t in message["report"]["totals_by_currency"] if t["currency"] == "USD")
    assert usd["total_expected"] == "1234.50"
    assert usd["total_net"] == "1200.00"
    # One line per currency, never a sum of the two (1333.50 would be USD + EUR).
    assert "USD: expected 1234.50" in message["text"] and "EUR: expected 99.00" in message["text"]
    assert "1333.50" not in json.dumps(message)
    assert message["report"]["url"].endswith("summary.html")
    assert "breaks" in message["text"] and "summary.html" in message["text"]

    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert len(receiver.bodies("/finance/T000/B000/secret")) == 1


def test_report_ready_retries_when_finance_webhook_fails(instance, receiver):
    from finance_recon.alerting.notify import DeliveryError

    sensor_def = build_report_ready_sensor(AssetKey("finance_reconciliation_report"))
    resource = alerting(receiver)
    assert run_pipeline(instance)
    receiver.status = 500
    with pytest.raises(DeliveryError):
        tick(sensor_def, instance, resource, None)
    receiver.status = 200
    tick(sensor_def, instance, resource, None)  # the cursor never moved: the next tick delivers
    assert len(receiver.bodies("/finance/T000/B000/secret")) == 1
