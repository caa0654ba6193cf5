"""The report-freshness SLO: its error budget, from Prometheus or from a list of publication times.

SLI: the share of minutes, over 28 days, in which the newest report is at most `threshold` (30)
minutes old; objective 99% by default (FINANCE_RECON_SLO_OBJECTIVE; the Prometheus rules in
deploy/prometheus/rules/finance_reconciliation_slo.rules.yml ship the same value). The error budget
left is `1 - error_ratio / (1 - objective)`: 1.0 untouched, 0 spent, negative overspent.

Two sources, the same definition:
- Prometheus (`from_prometheus`): the recording rules' `finance_reconciliation:slo_error_budget_remaining:ratio`
  and friends, computed from what the exporter was scraped saying, minute by minute;
- publication history (`from_publications`): the times reports were published (the report asset's
  materializations in the Dagster instance); between two publications the age grows from 0, so the
  stale time of a gap `g` is `max(0, g - threshold)`. Observation starts at the window start, or at
  the first publication the history holds when it is younger than the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_OBJECTIVE = 0.99
WINDOW = timedelta(days=28)
THRESHOLD_MINUTES = 30.0  # the SLA of FinanceReconciliationLagHigh; the rules hard-code it too
OBJECTIVE_RECORD = "finance_reconciliation:slo_objective:ratio"
REMAINING_RECORD = "finance_reconciliation:slo_error_budget_remaining:ratio"
BAD_MINUTE_RECORD = "finance_reconciliation:freshness_bad:minute"
BURN_RATE_RECORDS = {w: f"finance_reconciliation:freshness_burn_rate:{w}" for w in ("1h", "6h")}


@dataclass
class ErrorBudget:
    source: str  # prometheus | history
    objective: float
    error_ratio: float  # share of observed time with a stale (or unreadable) report
    observed_minutes: float
    window_minutes: float = WINDOW.total_seconds() / 60
    burn_rates: dict[str, float] | None = None  # Prometheus only: 1h and 6h burn rates now

    @property
    def remaining(self) -> float:
        return 1 - self.error_ratio / (1 - self.objective)

    @property
    def sli(self) -> float:
        return 1 - self.error_ratio

    @property
    def bad_minutes(self) -> float:
        return self.error_ratio * self.observed_minutes

    @property
    def allowed_bad_minutes(self) -> float:
        """The budget over the observed time (the whole 28 days once the history covers them)."""
        return (1 - self.objective) * self.observed_minutes

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "remaining": round(self.remaining, 6),
            "sli": round(self.sli, 6),
            "bad_minutes": round(self.bad_minutes, 2),
            "allowed_bad_minutes": round(self.allowed_bad_minutes, 2),
        }

    def describe(self) -> str:
        days = self.observed_minutes / 1440
        over = "28 d" if days >= 27.99 else f"the {days:,.1f} d observed"
        text = (
            f"error budget left {self.remaining:.1%}: SLI {self.sli:.3%} over {over} "
            f"(objective {self.objective:.2%}; {self.bad_minutes:,.1f} of {self.allowed_bad_minutes:,.1f} "
            f"stale minutes allowed) from {self.source}"
        )
        if self.burn_rates:
            text += "; burn rate " + ", ".join(f"{w} {v:.1f}x" for w, v in self.burn_rates.items())
        return text


def from_publications(
    published: Iterable[datetime],
    now: datetime,
    objective: float = DEFAULT_OBJECTIVE,
    threshold_minutes: float = THRESHOLD_MINUTES,
    window: timedelta = WINDOW,
) -> ErrorBudget | None:
    """The budget from publication times (any order; may include some before the window). None
    when nothing was published before `now`."""
    times = sorted(t.astimezone(UTC) for t in published if t <= now)
    if not times:
        return None
    start = now - window
    before = [t for t in times if t <= start]
    inside = [t for t in times if t > start]
    observed_from = start if before else inside[0]
    points = ([before[-1]] if before else []) + inside + [now]
    threshold = timedelta(minutes=threshold_minutes)
    stale = timedelta(0)
    for published_at, next_at in zip(points, points[1:], strict=False):
        stale_from = max(published_at + threshold, observed_from)
        if next_at > stale_from:
            stale += next_at - stale_from
    observed = now - observed_from
    if observed <= timedelta(0):
        return ErrorBudget("history", objective, 0.0, 0.0)
    return ErrorBudget("history", objective, stale / observed, observed.total_seconds() / 60)


class PrometheusUnavailable(RuntimeError):
    """Prometheus could not answer, or has no SLO series (rules not loaded, nothing scraped)."""


def from_prometheus(url: str, timeout_s: float = 5.0) -> ErrorBudget:
    """The budget as Prometheus's recording rules compute it (the worst instance, when several)."""
    remaining = _instant(url, REMAINING_RECORD, timeout_s)
    if not remaining:
        raise PrometheusUnavailable(
            f"Prometheus at {url} has no {REMAINING_RECORD} series: are "
            "deploy/prometheus/rules/finance_reconciliation_slo.rules.yml loaded and the exporter scraped?"
        )
    objective_series = _instant(url, OBJECTIVE_RECORD, timeout_s)
    objective = next(iter(objective_series.values())) if objective_series else DEFAULT_OBJECTIVE
    labels, worst = min(remaining.items(), key=lambda kv: kv[1])
    error_ratio = (1 - worst) * (1 - objective)
    burn = {}
    for window, record in BURN_RATE_RECORDS.items():
        series = _instant(url, record, timeout_s)
        if labels in series:
            burn[window] = series[labels]
    # Prometheus averages over the samples it holds (one a minute), up to 28 days: count them.
    counted = _instant(url, f"count_over_time({BAD_MINUTE_RECORD}[28d])", timeout_s)
    observed = counted.get(labels, WINDOW.total_seconds() / 60)
    return ErrorBudget(f"prometheus {url}", objective, error_ratio, observed, burn_rates=burn or None)


def _instant(url: str, query: str, timeout_s: float) -> dict[tuple, float]:
    import requests

    try:
        response = requests.get(f"{url.rstrip('/')}/api/v1/query", params={"query": query}, timeout=timeout_s)
        response.raise_for_status()
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise PrometheusUnavailable(f"Prometheus at {url} did not answer {query}: {exc}") from exc
    if body.get("status") != "success":
        raise PrometheusUnavailable(f"Prometheus at {url} refused {query}: {body.get('error')}")
    out = {}
    for item in body["data"]["result"]:
        labels = tuple(sorted((k, v) for k, v in item["metric"].items() if k != "__name__"))
        out[labels] = float(item["value"][1])  # float ok: a ratio, not money
    return out


def rules_objective(path: Path) -> float:
    """The objective the shipped rules record (`vector(0.99)`), so a test can keep both in step."""
    import yaml

    for group in yaml.safe_load(path.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == OBJECTIVE_RECORD:
                match = re.fullmatch(r"\s*vector\(([0-9.]+)\)\s*", rule["expr"])
                if not match:
                    raise ValueError(f"{path}: {OBJECTIVE_RECORD} is not a vector(<ratio>): {rule['expr']!r}")
                return float(match.group(1))  # float ok: the SLO objective, a ratio
    raise ValueError(f"{path}: no {OBJECTIVE_RECORD} recording rule")
