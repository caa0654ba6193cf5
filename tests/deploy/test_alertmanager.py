"""deploy/alertmanager/alertmanager.yml, checked by the real amtool."""

from __future__ import annotations

from tests.deploy.deploy_helpers import DEPLOY, require_binary, run

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"


def test_amtool_check_config():
    amtool = require_binary("amtool")
    result = run([amtool, "check-config", str(CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_routing_pages_critical_and_notifies_warnings():
    amtool = require_binary("amtool")
    cases = {
        ("alertname=FinanceReconciliationLagHigh", "severity=critical"): "finance-oncall",
        ("alertname=FinanceReconciliationMetricAbsent", "severity=critical"): "finance-oncall",
        (
            "alertname=FinanceReconciliationSourceLagHigh",
            "severity=warning",
            "source=payments",
        ): "finance-data",
        # The freshness SLO: the fast burn pages, the slow burn is a ticket for the team channel.
        (
            "alertname=FinanceReconciliationFreshnessBudgetBurnFast",
            "severity=critical",
            "notify=page",
        ): "finance-oncall",
        (
            "alertname=FinanceReconciliationFreshnessBudgetBurnSlow",
            "severity=warning",
            "notify=ticket",
        ): "finance-data",
    }
    for labels, receiver in cases.items():
        result = run([amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels])
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == receiver, (labels, result.stdout)


def test_no_secret_in_the_config():
    text = CONFIG.read_text()
    assert "hooks.slack.com" not in text
    assert "api_url:" not in text and "api_url_file:" in text
