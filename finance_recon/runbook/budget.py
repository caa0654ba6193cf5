"""The freshness SLO's error budget for `diagnose`: from Prometheus when one is configured
(`--prometheus-url` / FINANCE_RECON_PROMETHEUS_URL), else from the publication history the Dagster
instance holds (the report asset's materializations of the last 28 days). The arithmetic is in
`finance_recon.metrics.slo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from finance_recon.metrics.slo import (
    THRESHOLD_MINUTES,
    WINDOW,
    ErrorBudget,
    PrometheusUnavailable,
    from_prometheus,
    from_publications,
)

PAGE = 1000


@dataclass
class BudgetLook:
    budget: ErrorBudget | None
    note: str | None = None  # why a source was not used, or why there is no budget


def publication_times(now: datetime, instance=None) -> list[datetime]:
    """When the report asset was materialized: from the window start back to the one before it."""
    from dagster import AssetRecordsFilter, DagsterInstance

    from finance_recon.names import REPORT_KEY

    owned = instance is None
    instance = instance or DagsterInstance.get()
    try:
        start = (now - WINDOW).timestamp()
        times: list[datetime] = []
        cursor = None
        while True:
            result = instance.fetch_materializations(
                AssetRecordsFilter(
                    asset_key=REPORT_KEY, after_timestamp=start, before_timestamp=now.timestamp()
                ),
                limit=PAGE,
                cursor=cursor,
                ascending=True,
            )
            times += [datetime.fromtimestamp(r.timestamp, UTC) for r in result.records]
            if not result.has_more:
                break
            cursor = result.cursor
        earlier = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=REPORT_KEY, before_timestamp=start), limit=1
        ).records
        return [datetime.fromtimestamp(r.timestamp, UTC) for r in earlier] + times
    finally:
        if owned:
            instance.dispose()


def error_budget(
    objective: float,
    prometheus_url: str | None,
    now: datetime | None = None,
    threshold_minutes: float = THRESHOLD_MINUTES,
) -> BudgetLook:
    now = now or datetime.now(UTC)
    note = None
    if prometheus_url:
        try:
            return BudgetLook(from_prometheus(prometheus_url))
        except PrometheusUnavailable as exc:
            note = f"{exc}; budget computed from the instance's publication history instead"
    try:
        budget = from_publications(publication_times(now), now, objective, threshold_minutes)
    except Exception as exc:  # noqa: BLE001 - diagnose reports, it does not raise
        budget, problem = None, f"cannot read the publication history: {type(exc).__name__}: {exc}"
    else:
        problem = "no report publication recorded in this instance: no error budget yet"
    if budget is None:
        return BudgetLook(None, f"{note}; {problem}" if note else problem)
    return BudgetLook(budget, note)
