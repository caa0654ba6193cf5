"""Where alerts go: Alertmanager's v2 API and a Slack-compatible webhook. Plain HTTP, no state.

Alertmanager (`POST /api/v2/alerts`): a JSON list of alerts with `labels` (identity: `alertname`,
`severity`, `asset`, `check`, `service`), `annotations` (`summary`, `description`, `runbook_url`),
`startsAt`, optional `endsAt` and `generatorURL`. An alert posted without `endsAt` expires after
Alertmanager's `resolve_timeout` (5 min by default), so a firing alert must be re-posted while it
lasts (the sensors do, at most every `refresh_seconds`); posting it with `endsAt` ≤ now resolves it.
Re-posting the same labels is idempotent on Alertmanager's side (it deduplicates by label set).

Webhook (Slack incoming-webhook compatible): `{"text": ..., "blocks": [...]}`. Sent once per fire
and once per resolve — webhooks do not deduplicate, the sensor's cursor does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_TIMEOUT_S = 10.0


class DeliveryError(RuntimeError):
    """A receiver did not accept the notification (the sensor retries on its next tick)."""


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Alert:
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str | None = None

    def alertmanager_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": iso(self.starts_at),
        }
        if self.ends_at is not None:
            body["endsAt"] = iso(self.ends_at)
        if self.generator_url:
            body["generatorURL"] = self.generator_url
        return body

    def slack_json(self) -> dict[str, Any]:
        resolved = self.ends_at is not None
        state = "RESOLVED" if resolved else "FIRING"
        icon = (
            ":white_check_mark:"
            if resolved
            else (":rotating_light:" if self.labels.get("severity") == "critical" else ":warning:")
        )
        summary = self.annotations.get("summary", self.labels.get("alertname", "alert"))
        lines = [f"{icon} *[{state}] {summary}*"]
        if self.annotations.get("description"):
            lines.append(self.annotations["description"])
        facts = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        lines.append(f"`{facts}`")
        if self.annotations.get("runbook_url"):
            lines.append(f"Runbook: {self.annotations['runbook_url']}")
        text = "\n".join(lines)
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


@dataclass
class HttpSender:
    timeout_s: float = DEFAULT_TIMEOUT_S
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    def post_json(self, url: str, payload: Any) -> None:
        import requests

        try:
            response = requests.post(url, json=payload, timeout=self.timeout_s, headers=self.headers)
        except requests.RequestException as exc:
            raise DeliveryError(f"POST {_redact(url)} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            raise DeliveryError(f"POST {_redact(url)} answered {response.status_code}: {response.text[:200]}")


def _redact(url: str) -> str:
    """Webhook URLs carry their secret in the path: show scheme and host only."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"


def alertmanager_alerts_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/api/v2/alerts") else f"{base}/api/v2/alerts"


def post_to_alertmanager(base_url: str, alerts: list[Alert], sender: HttpSender | None = None) -> None:
    if alerts:
        (sender or HttpSender()).post_json(
            alertmanager_alerts_url(base_url), [a.alertmanager_json() for a in alerts]
        )


def post_to_webhook(url: str, payload: dict[str, Any], sender: HttpSender | None = None) -> None:
    (sender or HttpSender()).post_json(url, payload)
