"""Reading Prometheus: one gauge from a text exposition, and whether an alert fires."""

from __future__ import annotations

import requests


def scrape_gauge(url: str, name: str) -> float | None:
    """The value of an unlabelled gauge in a Prometheus text exposition (None when absent)."""
    response = requests.get(url, timeout=5)
    response.raise_for_status()
    for line in response.text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{}"):
            return float(line.rsplit(" ", 1)[1])  # float ok: seconds on the drill timeline
    return None


def alert_firing(prometheus_url: str, alertname: str) -> bool | None:
    """Whether `alertname` is firing in Prometheus' alerts API (None when Prometheus cannot be read)."""
    try:
        response = requests.get(f"{prometheus_url}/api/v1/alerts", timeout=5)
        response.raise_for_status()
    except requests.RequestException:
        return None
    alerts = response.json().get("data", {}).get("alerts", [])
    return any(
        a.get("labels", {}).get("alertname") == alertname and a.get("state") == "firing" for a in alerts
    )
