"""`AlertingResource`: the receivers of alerts and notifications, configured from the environment.

FINANCE_RECON_ALERTMANAGER_URL (base URL, e.g. http://127.0.0.1:9093), FINANCE_RECON_ALERT_WEBHOOK_URL
(Slack-compatible incoming webhook), FINANCE_RECON_FINANCE_WEBHOOK_URL (Finance's channel: "the
report is ready"), FINANCE_RECON_RUNBOOK_URL. Webhook URLs embed their secret, so they are handed to
Dagster as `EnvVar`s when set and never logged in full.
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from finance_recon.alerting.notify import Alert, HttpSender, post_to_alertmanager, post_to_webhook
from finance_recon.settings import (
    ENV_ALERT_WEBHOOK_URL,
    ENV_FINANCE_WEBHOOK_URL,
    Settings,
    secret_or_default,
)


class AlertingResource(ConfigurableResource):
    alertmanager_url: str = Field(default="", description="Alertmanager base URL; empty: not used.")
    alert_webhook_url: str = Field(
        default="", description="Slack-compatible webhook for alerts; empty: not used."
    )
    finance_webhook_url: str = Field(default="", description="Webhook telling Finance a report is ready.")
    runbook_url: str = Field(default="", description="Runbook linked from every alert.")
    timeout_s: float = Field(default=10.0, description="HTTP timeout per delivery.")
    refresh_seconds: float = Field(
        default=60.0,
        description="Re-post firing alerts to Alertmanager this often (keep well under its resolve_timeout).",
    )

    @property
    def has_alertmanager(self) -> bool:
        return bool(self.alertmanager_url.strip())

    @property
    def has_webhook(self) -> bool:
        return bool(self.alert_webhook_url.strip())

    @property
    def has_finance_webhook(self) -> bool:
        return bool(self.finance_webhook_url.strip())

    def to_alertmanager(self, alerts: list[Alert]) -> None:
        post_to_alertmanager(self.alertmanager_url, alerts, HttpSender(timeout_s=self.timeout_s))

    def to_webhook(self, alert: Alert) -> None:
        post_to_webhook(self.alert_webhook_url, alert.slack_json(), HttpSender(timeout_s=self.timeout_s))

    def to_finance(self, payload: dict[str, Any]) -> None:
        post_to_webhook(self.finance_webhook_url, payload, HttpSender(timeout_s=self.timeout_s))


def build_alerting_resources(settings: Settings) -> dict[str, Any]:
    """The `alerting` resource for one deployment (merged into the Definitions' resources)."""
    return {
        "alerting": AlertingResource(
            alertmanager_url=settings.alertmanager_url or "",
            alert_webhook_url=secret_or_default(ENV_ALERT_WEBHOOK_URL, ""),
            finance_webhook_url=secret_or_default(ENV_FINANCE_WEBHOOK_URL, ""),
            runbook_url=settings.runbook_url,
        )
    }
