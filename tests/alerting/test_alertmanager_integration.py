"""A real Alertmanager (Debian `prometheus-alertmanager`) on 127.0.0.1 receives the sensor's alert,
shows it via `GET /api/v2/alerts`, routes it to a webhook, and clears it on resolve.

The process is started on a free port with clustering off and its storage in tmp, and stopped by
PID in `finally`. A missing binary skips locally and FAILS under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
import requests

from finance_recon.alerting.resources import AlertingResource
from finance_recon.alerting.sensors import CHECK_ALERT, build_check_alert_sensor
from tests.alerting.test_sensors import CHECK_KEY, RUNBOOK, run_pipeline, tick
from tests.services import free_port as _free_port  # noqa: F401 (shared helpers)

pytestmark = pytest.mark.slow


def _binary() -> str:
    path = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if path:
        return path
    message = "prometheus-alertmanager not found: apt-get install -y --no-install-recommends prometheus-alertmanager"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def alertmanager(tmp_path, receiver):
    binary = _binary()
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: test-webhook\n"
        "  group_by: [alertname, asset, check]\n"
        "  group_wait: 1s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: test-webhook\n"
        "    webhook_configs:\n"
        f"      - url: {receiver.url}/am-webhook\n"
        "        send_resolved: true\n"
    )
    with open(tmp_path / "alertmanager.log", "wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                f"--storage.path={tmp_path / 'data'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:

            def ready():
                if process.poll() is not None:
                    raise AssertionError(
                        f"alertmanager exited: {(tmp_path / 'alertmanager.log').read_text()[-2000:]}"
                    )
                try:
                    return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
                except requests.RequestException:
                    return False

            _wait(ready, 30, "alertmanager /-/ready")
            yield url
        finally:
            process.terminate()  # by PID: only the process this fixture started
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _active(url: str) -> list[dict]:
    alerts = requests.get(
        f"{url}/api/v2/alerts", params={"filter": f"alertname={CHECK_ALERT}"}, timeout=5
    ).json()
    return [a for a in alerts if a["status"]["state"] == "active"]


def test_alertmanager_receives_shows_and_clears_the_alert(instance, receiver, alertmanager):
    sensor_def = build_check_alert_sensor([CHECK_KEY])
    resource = AlertingResource(alertmanager_url=alertmanager, runbook_url=RUNBOOK, refresh_seconds=3600.0)

    assert not run_pipeline(instance, check="error")
    cursor, _ = tick(sensor_def, instance, resource, None)

    [alert] = _wait(lambda: _active(alertmanager), 10, "the alert in GET /api/v2/alerts")
    assert alert["labels"]["asset"] == "orders"
    assert alert["labels"]["check"] == "contract"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["runbook_url"] == RUNBOOK
    assert "orders.currency" in alert["annotations"]["description"]

    # Alertmanager routes it on: one firing notification to the webhook receiver.
    firing = _wait(
        lambda: [b for b in receiver.bodies("/am-webhook") if b["status"] == "firing"],
        15,
        "AM webhook (firing)",
    )
    assert firing[0]["alerts"][0]["labels"]["alertname"] == CHECK_ALERT

    # More ticks: no second alert in Alertmanager.
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    assert len(_active(alertmanager)) == 1

    assert run_pipeline(instance, check="pass")
    cursor, _ = tick(sensor_def, instance, resource, cursor)
    _wait(lambda: not _active(alertmanager), 10, "the alert to clear")
    resolved = _wait(
        lambda: [b for b in receiver.bodies("/am-webhook") if b["status"] == "resolved"],
        15,
        "AM webhook (resolved)",
    )
    assert resolved[0]["alerts"][0]["labels"]["check"] == "contract"
