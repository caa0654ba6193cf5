"""Configuration, resolved once from the environment with embedded defaults.

Every environment variable the platform reads is declared here (and documented in the README).
Secrets (source URLs with passwords, S3 keys) are not stored in this object as plain values for
resources: `secret_or_default` hands Dagster an `EnvVar` so the value never shows in the UI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import EnvVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

ENV_HOME = "FINANCE_RECON_HOME"
ENV_ORDERS_URL = "FINANCE_RECON_ORDERS_URL"
ENV_PAYMENTS_URL = "FINANCE_RECON_PAYMENTS_URL"
ENV_REPORTS_URI = "FINANCE_RECON_REPORTS_URI"
ENV_WAREHOUSE_TARGET = "FINANCE_RECON_WAREHOUSE_TARGET"
ENV_WAREHOUSE_PATH = "FINANCE_RECON_WAREHOUSE_PATH"
ENV_S3_ENDPOINT_URL = "FINANCE_RECON_S3_ENDPOINT_URL"
ENV_LOOK_BACK_MINUTES = "FINANCE_RECON_LOOK_BACK_MINUTES"
ENV_EXTRACT_BATCH_ROWS = "FINANCE_RECON_EXTRACT_BATCH_ROWS"
ENV_TOLERANCE = "FINANCE_RECON_TOLERANCE"
ENV_GRACE_MINUTES = "FINANCE_RECON_GRACE_MINUTES"
ENV_SLA_MINUTES = "FINANCE_RECON_SLA_MINUTES"
ENV_WARN_MINUTES = "FINANCE_RECON_WARN_MINUTES"
ENV_SOURCE_LAG_WARN_MINUTES = "FINANCE_RECON_SOURCE_LAG_WARN_MINUTES"
ENV_SOURCE_LAG_FAIL_MINUTES = "FINANCE_RECON_SOURCE_LAG_FAIL_MINUTES"
ENV_ALERTMANAGER_URL = "FINANCE_RECON_ALERTMANAGER_URL"
ENV_ALERT_WEBHOOK_URL = "FINANCE_RECON_ALERT_WEBHOOK_URL"
ENV_FINANCE_WEBHOOK_URL = "FINANCE_RECON_FINANCE_WEBHOOK_URL"
ENV_RUNBOOK_URL = "FINANCE_RECON_RUNBOOK_URL"
ENV_SLO_OBJECTIVE = "FINANCE_RECON_SLO_OBJECTIVE"  # freshness SLO; the Prometheus rules ship 0.99 too
ENV_PROMETHEUS_URL = "FINANCE_RECON_PROMETHEUS_URL"  # where `diagnose` reads the SLO's error budget

DEFAULT_RUNBOOK_URL = (
    "https://github.com/finance-recon/finance_recon/blob/main/docs/runbooks/finance-reconciliation-delay.md"
)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Everything the platform needs to know about where it runs."""

    home: Path
    orders_url: str
    payments_url: str
    reports_uri: str
    warehouse_target: str
    warehouse_path: Path
    s3_endpoint_url: str | None
    look_back_minutes: int
    extract_batch_rows: int
    tolerance: Decimal
    grace_minutes: int
    sla_minutes: int
    warn_minutes: int
    source_lag_warn_minutes: int
    source_lag_fail_minutes: int
    alertmanager_url: str | None
    alert_webhook_url: str | None
    finance_webhook_url: str | None
    runbook_url: str
    slo_objective: float = 0.99
    prometheus_url: str | None = None

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def demo_dir(self) -> Path:
        """Embedded demo source databases and the generator's ground truth."""
        return self.home / "demo"

    @property
    def reports_are_s3(self) -> bool:
        return self.reports_uri.startswith("s3://")

    @property
    def orders_url_is_default(self) -> bool:
        return not os.environ.get(ENV_ORDERS_URL, "").strip()

    @property
    def payments_url_is_default(self) -> bool:
        return not os.environ.get(ENV_PAYMENTS_URL, "").strip()


def default_orders_url(home: Path) -> str:
    return f"duckdb:///{home / 'demo' / 'oltp.duckdb'}"


def default_payments_url(home: Path) -> str:
    return f"duckdb:///{home / 'demo' / 'payments.duckdb'}"


def load_settings() -> Settings:
    """Read the environment. Cheap and side-effect free; call it where configuration is needed."""
    home = Path(_env(ENV_HOME, str(PROJECT_ROOT / ".finance_recon"))).expanduser().resolve()
    return Settings(
        home=home,
        orders_url=_env(ENV_ORDERS_URL, default_orders_url(home)),
        payments_url=_env(ENV_PAYMENTS_URL, default_payments_url(home)),
        reports_uri=_env(ENV_REPORTS_URI, str(home / "object-store" / "finance-reports")),
        warehouse_target=_env(ENV_WAREHOUSE_TARGET, "duckdb"),
        warehouse_path=Path(_env(ENV_WAREHOUSE_PATH, str(home / "warehouse.duckdb"))),
        s3_endpoint_url=os.environ.get(ENV_S3_ENDPOINT_URL) or os.environ.get("AWS_ENDPOINT_URL") or None,
        look_back_minutes=int(_env(ENV_LOOK_BACK_MINUTES, "10")),
        extract_batch_rows=int(_env(ENV_EXTRACT_BATCH_ROWS, "100000")),
        tolerance=Decimal(_env(ENV_TOLERANCE, "0.00")),
        grace_minutes=int(_env(ENV_GRACE_MINUTES, "60")),
        sla_minutes=int(_env(ENV_SLA_MINUTES, "30")),
        warn_minutes=int(_env(ENV_WARN_MINUTES, "20")),
        source_lag_warn_minutes=int(_env(ENV_SOURCE_LAG_WARN_MINUTES, "15")),
        source_lag_fail_minutes=int(_env(ENV_SOURCE_LAG_FAIL_MINUTES, "30")),
        alertmanager_url=os.environ.get(ENV_ALERTMANAGER_URL) or None,
        alert_webhook_url=os.environ.get(ENV_ALERT_WEBHOOK_URL) or None,
        finance_webhook_url=os.environ.get(ENV_FINANCE_WEBHOOK_URL) or None,
        runbook_url=_env(ENV_RUNBOOK_URL, DEFAULT_RUNBOOK_URL),
        slo_objective=_objective(_env(ENV_SLO_OBJECTIVE, "0.99")),
        prometheus_url=os.environ.get(ENV_PROMETHEUS_URL) or None,
    )


def _objective(raw: str) -> float:
    """A ratio, not money: float is fine. Must leave an error budget (0 < objective < 1)."""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise ValueError(f"{ENV_SLO_OBJECTIVE}={raw!r}: expected a ratio between 0 and 1, e.g. 0.99")
    return value


def secret_or_default(env_name: str, default: str) -> str | EnvVar:
    """An `EnvVar` when the variable is set (Dagster then never displays its value), else the default."""
    from dagster import EnvVar  # imported here: the exporter and the CLI read settings without dagster

    return EnvVar(env_name) if os.environ.get(env_name, "").strip() else default


def ensure_dagster_home(settings: Settings) -> Path:
    """Point DAGSTER_HOME at the state folder (unless set) and give it the project's dagster.yaml."""
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home)
    dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    target = dagster_home / "dagster.yaml"
    if not target.exists():
        template = PROJECT_ROOT / "deploy" / "dagster" / "dagster.yaml"
        target.write_text(template.read_text())
    return dagster_home
