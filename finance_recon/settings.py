"""Configuration, resolved once from the environment with embedded defaults.

Every environment variable the platform reads is declared here (and documented in the README) and
parsed by pydantic-settings: a bad value is a `SettingsError` naming the variable, the value and what
is expected, which the CLI prints as one line (exit 2).
Secrets (source URLs with passwords, S3 keys) are not stored in this object as plain values for
resources: `secret_or_default` hands Dagster an `EnvVar` so the value never shows in the UI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
ENV_ICEBERG_CATALOG_URL = "FINANCE_RECON_ICEBERG_CATALOG_URL"
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
ENV_LANDING_ENGINE = "FINANCE_RECON_LANDING_ENGINE"
ENV_LAKE_DIR = "FINANCE_RECON_LAKE_DIR"
ENV_SPARK_MASTER = "FINANCE_RECON_SPARK_MASTER"
ENV_SPARK_PARTITIONS = "FINANCE_RECON_SPARK_PARTITIONS"
ENV_SPARK_DRIVER_MEMORY = "FINANCE_RECON_SPARK_DRIVER_MEMORY"
ENV_JDBC_JARS = "FINANCE_RECON_JDBC_JARS"
# Where dbt finds the landed tables (dbt_project reads it as well; the Spark target's catalog follows it).
ENV_LANDING_SCHEMA = "FINANCE_RECON_LANDING_SCHEMA"
# The dbt project the in-process dbt runs of the Spark path use (spark/reconcile.py; default dbt_project/).
ENV_DBT_PROJECT_DIR = "FINANCE_RECON_DBT_PROJECT_DIR"
# How the MySQL/MariaDB reader streams (sources/readers/mysql.py): through the command-line client
# when one is installed (default), or always through PyMySQL.
ENV_MYSQL_READER = "FINANCE_RECON_MYSQL_READER"
MYSQL_READERS = ("client", "pymysql")

LANDING_ENGINES = ("embedded", "spark")
# The dbt targets of dbt_project/profiles.yml; the CLI refuses any other before a run starts.
WAREHOUSE_TARGETS = ("duckdb", "trino", "spark")
# Debian's stable symlinks to the versioned JDBC jars (libpostgresql-jdbc-java, libmariadb-java).
DEFAULT_JDBC_JARS = ("/usr/share/java/postgresql.jar", "/usr/share/java/mariadb-java-client.jar")
ENV_PROBE_ENABLED = "FINANCE_RECON_PROBE_ENABLED"  # the correctness prober (finance_recon/probe/)
ENV_PROBE_UNMATCHED_EVERY = "FINANCE_RECON_PROBE_UNMATCHED_EVERY"

DEFAULT_RUNBOOK_URL = (
    "https://github.com/finance-recon/finance_recon/blob/main/docs/runbooks/finance-reconciliation-delay.md"
)


# A presigned S3 link (SigV4) is valid at most 7 days.
MAX_REPORT_LINK_EXPIRY_SECONDS = 7 * 24 * 3600


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
    # The landing engine and the Spark path (finance_recon/spark/config.py turns them into Spark conf).
    landing_engine: str = "embedded"
    lake_dir: Path | None = None  # None: <home>/lake
    spark_master: str = "local[*]"
    spark_partitions: int = 4
    spark_driver_memory: str = "4g"
    jdbc_jars: tuple[str, ...] = DEFAULT_JDBC_JARS
    landing_schema: str = "landing"
    dbt_project_dir: Path = DBT_PROJECT_DIR
    mysql_reader: str = "client"  # "pymysql": never the command-line client
    # Who `finance-recon accept` records as having accepted a quarantined batch (else the login name).
    operator: str | None = None
    # The correctness prober (finance_recon/probe/): off by default; when on, every run writes one
    # synthetic matched pair into the sources, and every `probe_unmatched_every`-th run also an
    # unmatched one.
    probe_enabled: bool = False
    probe_unmatched_every: int = 6
    # Seconds a presigned report link stays valid (SigV4 allows at most 7 days).
    report_link_expiry_seconds: int = 7 * 24 * 3600
    # The business day of the daily close ends at midnight in this IANA zone.
    close_timezone: str = "UTC"
    # The first day the close asset has a partition for (the UI lists and backfills from here).
    close_start_date: date = date(2026, 1, 1)
    # DuckDB's memory limit, for dbt (profiles.yml reads the same variable) and the platform's own
    # warehouse connections (the report's breaks spill beyond it instead of growing with their number).
    warehouse_memory_limit: str = "2GB"
    # The Trino target (dbt_project/profiles.yml reads the same variables) and its Iceberg warehouse.
    trino_host: str = "127.0.0.1"
    trino_port: int = 8080
    trino_catalog: str = "iceberg"
    trino_schema: str = "finance_recon"
    trino_user: str = "finance_recon"
    # Iceberg's JDBC catalog (a PostgreSQL database of its own) and where the data files live.
    iceberg_catalog_url: str = "postgresql://postgres@127.0.0.1:5432/finance_recon_iceberg"
    iceberg_warehouse: str = "local"

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


class SettingsError(ValueError):
    """A setting (environment variable) or run parameter with a bad value; `str(exc)` is one line naming it."""


# The run parameters' limits, shared by the settings and the CLI's flags (contracts §2).
MAX_AS_OF_SKEW_MINUTES = 5
_TOLERANCE_QUANTUM = Decimal("0.01")
_TOLERANCE_LIMIT = Decimal(10) ** 16  # DECIMAL(18, 2): 16 integer digits
TOLERANCE_EXPECTED = "a decimal ≥ 0 with at most 2 decimal places and 16 integer digits, e.g. 0.01"
GRACE_EXPECTED = "whole minutes, an integer ≥ 0, e.g. 60"


def check_tolerance(value: Decimal) -> Decimal:
    """τ as contracts §2 allows it: finite, ≥ 0, representable as DECIMAL(18, 2); else ValueError."""
    if (
        not value.is_finite()
        or value < 0
        or value >= _TOLERANCE_LIMIT
        or value != value.quantize(_TOLERANCE_QUANTUM)
    ):
        raise ValueError(f"expected {TOLERANCE_EXPECTED}")
    return value


def check_grace_minutes(value: int) -> int:
    if value < 0:
        raise ValueError(f"expected {GRACE_EXPECTED}")
    return value


# Every field of `_Environment` is read from FINANCE_RECON_<FIELD>; its description is what the
# error says is expected when the value does not parse.
_ENV_PREFIX = "FINANCE_RECON_"


class _Environment(BaseSettings):
    """The environment as typed values: pydantic-settings parses it and names the bad variable."""

    model_config = SettingsConfigDict(env_prefix=_ENV_PREFIX, env_ignore_empty=True, extra="ignore")

    home: Path = Field(default=PROJECT_ROOT / ".finance_recon", description="a folder path")
    orders_url: str | None = Field(default=None, description="a SQLAlchemy URL")
    payments_url: str | None = Field(default=None, description="a SQLAlchemy URL")
    reports_uri: str | None = Field(default=None, description="a folder or s3://bucket/prefix")
    # Any name: dbt_project/profiles.yml decides which targets exist (duckdb, trino, spark).
    warehouse_target: str = Field(default="duckdb", description="a dbt target of dbt_project/profiles.yml")
    warehouse_path: Path | None = Field(default=None, description="a file path")
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(ENV_S3_ENDPOINT_URL, "AWS_ENDPOINT_URL"),
        description="an http(s) URL",
    )
    look_back_minutes: int = Field(default=10, ge=0, description="whole minutes, an integer ≥ 0")
    extract_batch_rows: int = Field(default=100_000, ge=1, description="an integer ≥ 1")
    tolerance: Decimal = Field(default=Decimal("0.00"), description=TOLERANCE_EXPECTED)
    grace_minutes: int = Field(default=60, description=GRACE_EXPECTED)
    sla_minutes: int = Field(default=30, ge=1, description="whole minutes, an integer ≥ 1")
    warn_minutes: int = Field(default=20, ge=1, description="whole minutes, an integer ≥ 1")
    source_lag_warn_minutes: int = Field(default=15, ge=1, description="whole minutes, an integer ≥ 1")
    source_lag_fail_minutes: int = Field(default=30, ge=1, description="whole minutes, an integer ≥ 1")
    alertmanager_url: str | None = Field(default=None, description="an http(s) URL")
    alert_webhook_url: str | None = Field(default=None, description="an http(s) URL")
    finance_webhook_url: str | None = Field(default=None, description="an http(s) URL")
    runbook_url: str = Field(default=DEFAULT_RUNBOOK_URL, description="a URL")
    # A ratio, not money: float is fine. It must leave an error budget (0 < objective < 1).
    slo_objective: float = Field(default=0.99, gt=0, lt=1, description="a ratio between 0 and 1, e.g. 0.99")
    prometheus_url: str | None = Field(default=None, description="an http(s) URL")
    landing_engine: str = Field(default="embedded", description=f"one of {', '.join(LANDING_ENGINES)}")
    lake_dir: Path | None = Field(default=None, description="a folder path")
    spark_master: str = Field(
        default="local[*]", description="a Spark master URL, e.g. local[*] or spark://host:7077"
    )
    spark_partitions: int = Field(default=4, ge=1, description="an integer ≥ 1")
    spark_driver_memory: str = Field(default="4g", description="a JVM memory size, e.g. 4g")
    jdbc_jars: str | None = Field(default=None, description="comma-separated paths of JDBC driver jars")
    landing_schema: str | None = Field(default=None, description="a schema name")
    dbt_project_dir: Path | None = Field(
        default=None, description="a folder path of a dbt project (with its profiles.yml)"
    )
    mysql_reader: str | None = Field(default=None, description=f"one of {', '.join(MYSQL_READERS)}")
    operator: str | None = Field(default=None, description="a name, recorded by `finance-recon accept`")
    probe_enabled: bool = Field(default=False, description="true or false")
    probe_unmatched_every: int = Field(default=6, ge=1, description="a whole number of runs, an integer ≥ 1")
    report_link_expiry: int = Field(
        default=MAX_REPORT_LINK_EXPIRY_SECONDS,
        ge=1,
        le=MAX_REPORT_LINK_EXPIRY_SECONDS,
        description="seconds, an integer from 1 to 604800 (7 days, the SigV4 maximum)",
    )

    close_timezone: str = Field(default="UTC", description="an IANA time zone, e.g. Europe/Paris")
    close_start_date: date = Field(default=date(2026, 1, 1), description="a date YYYY-MM-DD")
    warehouse_memory_limit: str = Field(
        default="2GB",
        pattern=r"(?i)^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="a DuckDB memory size, e.g. 2GB or 512MiB",
    )
    trino_host: str = Field(default="127.0.0.1", description="a host name")
    trino_port: int = Field(default=8080, ge=1, le=65535, description="a TCP port, 1-65535")
    trino_catalog: str = Field(default="iceberg", pattern=r"^[a-z_][a-z0-9_]*$", description="a catalog name")
    trino_schema: str = Field(
        default="finance_recon", pattern=r"^[a-z_][a-z0-9_]*$", description="a schema name"
    )
    trino_user: str = Field(default="finance_recon", description="a Trino user name")
    iceberg_catalog_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/finance_recon_iceberg",
        pattern=r"^postgres(ql)?(\+\w+)?://",
        description="a postgresql:// URL of the Iceberg JDBC catalog's database",
    )
    iceberg_warehouse: str = Field(
        default="local",
        pattern=r"^(local|s3://.+)$",
        description="local (the local Trino's folder) or s3://bucket/prefix",
    )

    @field_validator("close_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("landing_engine")
    @classmethod
    def _landing_engine(cls, value: str) -> str:
        if value.lower() not in LANDING_ENGINES:
            raise ValueError(f"expected one of {', '.join(LANDING_ENGINES)}")
        return value.lower()

    @field_validator("mysql_reader")
    @classmethod
    def _mysql_reader(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in MYSQL_READERS:
            raise ValueError(f"expected one of {', '.join(MYSQL_READERS)}")
        return value and value.lower()

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, value: Decimal) -> Decimal:
        return check_tolerance(value)

    @field_validator("grace_minutes")
    @classmethod
    def _grace(cls, value: int) -> int:
        return check_grace_minutes(value)


def _variable(loc: tuple[Any, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    if field in _Environment.model_fields and not field.startswith(_ENV_PREFIX):
        return _ENV_PREFIX + field.upper()
    return field


def _environment() -> _Environment:
    try:
        return _Environment()
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = _variable(error["loc"])
        field = _Environment.model_fields.get(str(error["loc"][0]) if error["loc"] else "")
        expected = field.description if field is not None else error["msg"]
        raise SettingsError(
            f"environment variable {variable}={error.get('input')!r} is invalid: expected {expected}"
        ) from None


def load_settings() -> Settings:
    """Read the environment. Cheap and side-effect free; call it where configuration is needed.

    Raises `SettingsError` (one line naming the variable, its value and what is expected).
    """
    env = _environment()
    home = env.home.expanduser().resolve()
    return Settings(
        home=home,
        orders_url=env.orders_url or default_orders_url(home),
        payments_url=env.payments_url or default_payments_url(home),
        reports_uri=env.reports_uri or str(home / "object-store" / "finance-reports"),
        warehouse_target=env.warehouse_target,
        warehouse_path=env.warehouse_path or home / "warehouse.duckdb",
        s3_endpoint_url=env.s3_endpoint_url,
        look_back_minutes=env.look_back_minutes,
        extract_batch_rows=env.extract_batch_rows,
        tolerance=env.tolerance,
        grace_minutes=env.grace_minutes,
        sla_minutes=env.sla_minutes,
        warn_minutes=env.warn_minutes,
        source_lag_warn_minutes=env.source_lag_warn_minutes,
        source_lag_fail_minutes=env.source_lag_fail_minutes,
        alertmanager_url=env.alertmanager_url,
        alert_webhook_url=env.alert_webhook_url,
        finance_webhook_url=env.finance_webhook_url,
        runbook_url=env.runbook_url,
        slo_objective=env.slo_objective,
        prometheus_url=env.prometheus_url,
        landing_engine=env.landing_engine,
        lake_dir=(env.lake_dir or home / "lake").expanduser().resolve(),
        spark_master=env.spark_master,
        spark_partitions=env.spark_partitions,
        spark_driver_memory=env.spark_driver_memory,
        jdbc_jars=tuple(
            j.strip() for j in (env.jdbc_jars or ",".join(DEFAULT_JDBC_JARS)).split(",") if j.strip()
        ),
        landing_schema=env.landing_schema or "landing",
        dbt_project_dir=(env.dbt_project_dir or DBT_PROJECT_DIR).expanduser().resolve(),
        mysql_reader=env.mysql_reader or "client",
        operator=(env.operator or "").strip() or None,
        probe_enabled=env.probe_enabled,
        probe_unmatched_every=env.probe_unmatched_every,
        report_link_expiry_seconds=env.report_link_expiry,
        close_timezone=env.close_timezone,
        close_start_date=env.close_start_date,
        warehouse_memory_limit=env.warehouse_memory_limit,
        trino_host=env.trino_host,
        trino_port=env.trino_port,
        trino_catalog=env.trino_catalog,
        trino_schema=env.trino_schema,
        trino_user=env.trino_user,
        iceberg_catalog_url=env.iceberg_catalog_url,
        iceberg_warehouse=env.iceberg_warehouse,
    )


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
        target.write_text(template.read_text() + _event_log_storage_yaml(dagster_home))
    return dagster_home


def _event_log_storage_yaml(dagster_home: Path) -> str:
    """The instance's event log (finance_recon/runs/event_log.py) in the folder Dagster's default
    SQLite storage uses, spelled out: Dagster hands a custom storage class only its own config."""
    base_dir = json.dumps(str(dagster_home.resolve() / "history" / "runs"))  # a quoted YAML scalar
    return (
        "event_log_storage:\n"
        "  module: finance_recon.runs.event_log\n"
        "  class: PooledSqliteEventLogStorage\n"
        "  config:\n"
        f"    base_dir: {base_dir}\n"
    )


@contextmanager
def environment_overrides(updates: Mapping[str, str]) -> Iterator[None]:
    """Set these environment variables for the block, then restore each one (or remove it): for a
    child that reads its configuration from the environment (dbt in-process, a drill's run)."""
    saved = {name: os.environ.get(name) for name in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
