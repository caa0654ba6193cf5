"""Configuration: one typed model, resolved once from the environment at an entry point.

`Settings` is a pydantic-settings model: every environment variable the platform reads is one field
of it, declared once with its type, default, validation, what a valid value looks like (`expected`,
which the error names) and what it means (the README's table is rendered from these,
`settings_table_markdown`, and a test keeps the two equal). Settings computed from others (the
default source URLs, report store, warehouse file and lake under `home`) are resolved by the model.

`load_settings()` reads the environment; only entry points call it (the CLI, the code location's
`defs`, the exporter, the Trino catalog tool) and hand the `Settings` down, so one process can hold
two deployments. A bad value is a `SettingsError` naming the variable, the value and what is
expected, which the CLI prints as one line (exit 2).
Secrets (source URLs with passwords, S3 keys) are not stored in this object as plain values for
resources: `secret_or_default` hands Dagster an `EnvVar` so the value never shows in the UI.
"""

from __future__ import annotations

import contextvars
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AliasChoices, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

if TYPE_CHECKING:
    from dagster import EnvVar

    from finance_recon.contracts import SourceTable

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# Every field of `Settings` is read from FINANCE_RECON_<FIELD> unless it names its variable(s).
ENV_PREFIX = "FINANCE_RECON_"

# How the MySQL/MariaDB reader streams (sources/readers/mysql.py): through the command-line client
# when one is installed (default), or always through PyMySQL.
MYSQL_READERS = ("client", "pymysql")
LANDING_ENGINES = ("embedded", "spark")
# The dbt targets of dbt_project/profiles.yml; the CLI refuses any other before a run starts.
WAREHOUSE_TARGETS = ("duckdb", "trino", "spark")
# Debian's stable symlinks to the versioned JDBC jars (libpostgresql-jdbc-java, libmariadb-java).
DEFAULT_JDBC_JARS = ("/usr/share/java/postgresql.jar", "/usr/share/java/mariadb-java-client.jar")

DEFAULT_RUNBOOK_URL = (
    "https://github.com/finance-recon/finance_recon/blob/main/docs/runbooks/finance-reconciliation-delay.md"
)

# A presigned S3 link (SigV4) is valid at most 7 days.
MAX_REPORT_LINK_EXPIRY_SECONDS = 7 * 24 * 3600


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


def default_orders_url(home: Path) -> str:
    return f"duckdb:///{home / 'demo' / 'oltp.duckdb'}"


def default_payments_url(home: Path) -> str:
    return f"duckdb:///{home / 'demo' / 'payments.duckdb'}"


def _setting(
    default: Any, expected: str, meaning: str, *, shown: str | None = None, **constraints: Any
) -> Any:
    """One setting's declaration: its default, what a valid value looks like (the error message
    says it), what it means and, when the default is not a literal, how the README shows it."""
    return Field(
        default=default,
        description=meaning,
        json_schema_extra={"expected": expected, **({"shown": shown} if shown else {})},
        **constraints,
    )


# Settings whose default is computed from `home` (or another setting) by `Settings._resolve`: an
# unset or blank variable means "the computed default".
_COMPUTED = {
    "orders_url": lambda home: default_orders_url(home),
    "payments_url": lambda home: default_payments_url(home),
    "reports_uri": lambda home: str(home / "object-store" / "finance-reports"),
    "warehouse_path": lambda home: home / "warehouse.duckdb",
    "lake_dir": lambda home: home / "lake",
}
# Settings with a literal default where a blank variable also means that default.
_BLANK_IS_DEFAULT = {"jdbc_jars", "landing_schema", "dbt_project_dir", "mysql_reader"}
# Set while `Settings.from_values` builds a model from its arguments alone.
_VALUES_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "finance_recon_values_only", default=False
)
_URL = "an http(s) URL"
_MINUTES_1 = "whole minutes, an integer ≥ 1"
_IDENTIFIER = r"^[a-z_][a-z0-9_]*$"


class Settings(BaseSettings):
    """Everything the platform needs to know about where it runs (immutable: derive a variant with
    `settings.model_copy(update={...})`)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        validate_by_name=True,  # Settings(report_link_expiry_seconds=...) as well as the variable
        validate_by_alias=True,
    )

    home: Path = _setting(
        PROJECT_ROOT / ".finance_recon",
        "a folder path",
        "state folder: warehouse, demo sources, local object store, Dagster home",
        shown="`<checkout>/.finance_recon`",
    )
    orders_url: str = _setting(
        None,
        "a SQLAlchemy URL",
        "SQLAlchemy URL of the orders database, e.g. `mysql+pymysql://user:pw@host:3306/oltp`",
        shown="`duckdb:///$HOME/demo/oltp.duckdb`",
    )
    payments_url: str = _setting(
        None,
        "a SQLAlchemy URL",
        "SQLAlchemy URL of the payments database, e.g. `postgresql://user:pw@host:5432/payments`",
        shown="`duckdb:///$HOME/demo/payments.duckdb`",
    )
    reports_uri: str = _setting(
        None,
        "a folder or s3://bucket/prefix",
        "report store: a folder or `s3://bucket/prefix` (e.g. `s3://finance-reports`)",
        shown="`$HOME/object-store/finance-reports`",
    )
    s3_endpoint_url: str | None = _setting(
        None,
        _URL,
        "S3-compatible endpoint (MinIO); credentials from the standard `AWS_ACCESS_KEY_ID` / "
        "`AWS_SECRET_ACCESS_KEY`",
        shown="AWS",
        validation_alias=AliasChoices(ENV_PREFIX + "S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "s3_endpoint_url"),
    )
    # Any name: dbt_project/profiles.yml decides which targets exist (duckdb, trino, spark).
    warehouse_target: str = _setting(
        "duckdb",
        "a dbt target of dbt_project/profiles.yml",
        "dbt target: `duckdb` (embedded), `trino` or `spark`",
    )
    warehouse_path: Path = _setting(
        None, "a file path", "the DuckDB warehouse file", shown="`$HOME/warehouse.duckdb`"
    )
    # DuckDB's memory limit, for dbt (profiles.yml reads the same variable) and the platform's own
    # warehouse connections (the report's breaks spill beyond it instead of growing with their number).
    warehouse_memory_limit: str = _setting(
        "2GB",
        "a DuckDB memory size, e.g. 2GB or 512MiB",
        "DuckDB's memory limit in dbt and while publishing the breaks (beyond it DuckDB spills to disk)",
        pattern=r"(?i)^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
    )
    # The Trino target (dbt_project/profiles.yml reads the same variables) and its Iceberg warehouse.
    trino_host: str = _setting(
        "127.0.0.1", "a host name", "the Trino target's host (`dbt_project/profiles.yml`)"
    )
    trino_port: int = _setting(
        8080,
        "a TCP port, 1-65535",
        "the Trino target's port; also the port `make services` gives Trino",
        ge=1,
        le=65535,
    )
    trino_catalog: str = _setting(
        "iceberg", "a catalog name", "the Trino target's catalog", pattern=_IDENTIFIER
    )
    trino_schema: str = _setting(
        "finance_recon",
        "a schema name",
        "the Trino target's schema (the landing and control schemas are `<schema>_landing`, `<schema>_control`)",
        pattern=_IDENTIFIER,
    )
    trino_user: str = _setting("finance_recon", "a Trino user name", "the Trino target's user")
    # Iceberg's JDBC catalog (a PostgreSQL database of its own) and where the data files live.
    iceberg_catalog_url: str = _setting(
        "postgresql://postgres@127.0.0.1:5432/finance_recon_iceberg",
        "a postgresql:// URL of the Iceberg JDBC catalog's database",
        "the PostgreSQL database of the Iceberg JDBC catalog (`make services` creates its tables)",
        pattern=r"^postgres(ql)?(\+\w+)?://",
    )
    iceberg_warehouse: str = _setting(
        "local",
        "local (the local Trino's folder) or s3://bucket/prefix",
        "where the Iceberg data files live: `local` (the folder `make services` gives its Trino) or "
        "`s3://bucket/prefix` (then `FINANCE_RECON_S3_ENDPOINT_URL` and the AWS variables say where and who)",
        pattern=r"^(local|s3://.+)$",
    )
    # Where dbt finds the landed tables (dbt_project reads it as well; the Spark target's catalog follows it).
    landing_schema: str = _setting(
        "landing", "a schema name", "where dbt finds the landed `orders` and `payments`"
    )
    # The landing engine and the Spark path (finance_recon/spark/config.py turns them into Spark conf).
    landing_engine: str = _setting(
        "embedded",
        f"one of {', '.join(LANDING_ENGINES)}",
        "`spark` lands the sources through Spark JDBC into a Parquet lake instead (same asset keys)",
    )
    lake_dir: Path | None = _setting(
        None, "a folder path", "the Parquet lake of the Spark path", shown="`$HOME/lake`"
    )
    spark_master: str = _setting(
        "local[*]", "a Spark master URL, e.g. local[*] or spark://host:7077", "the Spark session's master"
    )
    spark_partitions: int = _setting(4, "an integer ≥ 1", "parallel Spark JDBC reads per table", ge=1)
    spark_driver_memory: str = _setting("4g", "a JVM memory size, e.g. 4g", "the Spark driver's memory")
    jdbc_jars: Annotated[tuple[str, ...], NoDecode] = _setting(
        DEFAULT_JDBC_JARS,
        "comma-separated paths of JDBC driver jars",
        "JDBC drivers for Spark (comma-separated paths)",
        shown="Debian's `/usr/share/java/{postgresql,mariadb-java-client}.jar`",
    )
    # The dbt project the in-process dbt runs of the Spark path use (spark/reconcile.py).
    dbt_project_dir: Path = _setting(
        DBT_PROJECT_DIR,
        "a folder path of a dbt project (with its profiles.yml)",
        "the dbt project (with its `profiles.yml`) the Spark path's in-process dbt runs",
        shown="`<checkout>/dbt_project`",
    )
    look_back_minutes: int = _setting(
        10,
        "whole minutes, an integer ≥ 0",
        "incremental extraction re-reads `updated_at > watermark − look-back`",
        ge=0,
    )
    extract_batch_rows: int = _setting(100_000, "an integer ≥ 1", "rows per streamed batch", ge=1)
    mysql_reader: str = _setting(
        "client",
        f"one of {', '.join(MYSQL_READERS)}",
        "how orders are read from MySQL/MariaDB: `client` (the `mariadb`/`mysql` command-line client, "
        "falling back to PyMySQL without it) or `pymysql`",
    )
    tolerance: Decimal = _setting(
        Decimal("0.00"),
        TOLERANCE_EXPECTED,
        "τ, default tolerance (decimal ≥ 0, at most 2 places, order currency)",
        shown="`0.00`",
    )
    grace_minutes: int = _setting(60, GRACE_EXPECTED, "G, default grace window (whole minutes ≥ 0)")
    sla_minutes: int = _setting(30, _MINUTES_1, "freshness policy: fail window", ge=1)
    warn_minutes: int = _setting(20, _MINUTES_1, "freshness policy: warn window", ge=1)
    source_lag_warn_minutes: int = _setting(
        15, _MINUTES_1, "source-lag (CDC/replication) check: warn threshold", ge=1
    )
    source_lag_fail_minutes: int = _setting(
        30, _MINUTES_1, "source-lag (CDC/replication) check: fail threshold", ge=1
    )
    alertmanager_url: str | None = _setting(
        None, _URL, "Alertmanager base URL; alert sensors post to `/api/v2/alerts`"
    )
    alert_webhook_url: str | None = _setting(None, _URL, "Slack-compatible webhook for on-call alerts")
    finance_webhook_url: str | None = _setting(
        None, _URL, "webhook told when a new report is ready (verdict, totals, link)"
    )
    runbook_url: str = _setting(
        DEFAULT_RUNBOOK_URL, "a URL", "link carried by alerts", shown="the runbook in this repository"
    )
    # A ratio, not money: float is fine. It must leave an error budget (0 < objective < 1).
    slo_objective: float = _setting(
        0.99,
        "a ratio between 0 and 1, e.g. 0.99",
        "the freshness SLO's objective as `diagnose` computes the error budget (the Prometheus rules "
        "ship 0.99 too)",
        gt=0,
        lt=1,
    )
    prometheus_url: str | None = _setting(
        None,
        _URL,
        "where `diagnose` reads the SLO's recorded error budget and burn rates (else computed from the "
        "run history)",
    )
    report_link_expiry_seconds: int = _setting(
        MAX_REPORT_LINK_EXPIRY_SECONDS,
        "seconds, an integer from 1 to 604800 (7 days, the SigV4 maximum)",
        "seconds a presigned S3 link stays valid (at most 7 days, SigV4)",
        ge=1,
        le=MAX_REPORT_LINK_EXPIRY_SECONDS,
        validation_alias=AliasChoices(ENV_PREFIX + "REPORT_LINK_EXPIRY", "report_link_expiry_seconds"),
    )
    # Issue 27: a run whose breaks equal the previous run's references those files (manifest
    # schema 2) instead of writing them again; the daily close turns it off (its copy is whole).
    reuse_unchanged_breaks: bool = _setting(
        True,
        "true or false",
        "a run whose breaks are row for row the previous run's does not rewrite breaks.csv/.parquet: "
        "its manifest references the previous files by key and SHA-256 (docs/contracts.md §3)",
    )
    close_timezone: str = _setting(
        "UTC",
        "an IANA time zone, e.g. Europe/Paris",
        "IANA zone whose midnight ends the business day of `finance-recon close`",
    )
    close_start_date: date = _setting(
        date(2026, 1, 1),
        "a date YYYY-MM-DD",
        "first day the daily-close asset has a partition for (the UI lists and backfills from it)",
    )
    # The correctness prober (finance_recon/probe/): off by default; when on, every run writes one
    # synthetic matched pair into the sources, and every `probe_unmatched_every`-th run also an
    # unmatched one.
    probe_enabled: bool = _setting(
        False,
        "true or false",
        "the correctness prober: each run first writes a synthetic matched order/payment pair with "
        "reserved ids into the sources (needs INSERT there) and checks dbt classifies it right "
        "(docs/operations.md)",
    )
    probe_unmatched_every: int = _setting(
        6,
        "a whole number of runs, an integer ≥ 1",
        "every N-th probed run also writes an underpaid pair that must come out `underpaid` (integer ≥ 1)",
        ge=1,
    )
    operator: str | None = _setting(
        None,
        "a name, recorded by `finance-recon accept`",
        "who `finance-recon accept` records as accepting a quarantined batch (`--by` wins)",
        shown="the login name",
    )

    @classmethod
    def from_values(cls, **values: Any) -> Settings:
        """Settings from these values and the defaults only, never from the environment (tests, and a
        variant of a deployment: `settings_under`). Validated and resolved as `load_settings` does."""
        token = _VALUES_ONLY.set(True)
        try:
            return cls(**values)
        finally:
            _VALUES_ONLY.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _VALUES_ONLY.get():
            return (init_settings,)
        return (init_settings, env_settings, dotenv_settings, file_secret_settings)

    # Whether the source URLs are the embedded defaults (no variable set): resolved with the rest.
    _orders_url_is_default: bool = PrivateAttr(default=False)
    _payments_url_is_default: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _resolve(cls, data: Any, handler: Any) -> Settings:
        """Blank values are unset; `home` is made absolute; the computed defaults are filled in."""
        if not isinstance(data, dict):
            return handler(data)
        data = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in data.items()}
        for name in (*_COMPUTED, *_BLANK_IS_DEFAULT):
            if data.get(name) is None:
                data.pop(name, None)
        home = Path(data.get("home") or cls.model_fields["home"].default).expanduser().resolve()
        data["home"] = home
        given = {name: name in data for name in ("orders_url", "payments_url")}
        for name, compute in _COMPUTED.items():
            data.setdefault(name, compute(home))
        settings = handler(data)
        settings._orders_url_is_default = not given["orders_url"]
        settings._payments_url_is_default = not given["payments_url"]
        return settings

    @field_validator("lake_dir", "dbt_project_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value and value.expanduser().resolve()

    @field_validator("jdbc_jars", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return tuple(j.strip() for j in value.split(",") if j.strip()) if isinstance(value, str) else value

    @field_validator("close_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value

    @field_validator("landing_engine")
    @classmethod
    def _landing_engine(cls, value: str) -> str:
        if value.lower() not in LANDING_ENGINES:
            raise ValueError(f"expected one of {', '.join(LANDING_ENGINES)}")
        return value.lower()

    @field_validator("mysql_reader")
    @classmethod
    def _mysql_reader(cls, value: str) -> str:
        if value.lower() not in MYSQL_READERS:
            raise ValueError(f"expected one of {', '.join(MYSQL_READERS)}")
        return value.lower()

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, value: Decimal) -> Decimal:
        return check_tolerance(value)

    @field_validator("grace_minutes")
    @classmethod
    def _grace(cls, value: int) -> int:
        return check_grace_minutes(value)

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

    def source_url(self, table: SourceTable) -> str:
        """The URL `table` is read from: the field `<table>_url` (FINANCE_RECON_<TABLE>_URL)."""
        return getattr(self, source_url_field(table))

    def source_url_is_default(self, table: SourceTable) -> bool:
        return getattr(self, f"{source_url_field(table)}_is_default")

    @property
    def orders_url_is_default(self) -> bool:
        return self._orders_url_is_default

    @property
    def payments_url_is_default(self) -> bool:
        return self._payments_url_is_default


def env_names(field: str) -> tuple[str, ...]:
    """The environment variable(s) a field of `Settings` is read from, the canonical one first."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices if str(choice) != field)
    return (ENV_PREFIX + field.upper(),)


def env_name(field: str) -> str:
    return env_names(field)[0]


def source_url_field(table: SourceTable) -> str:
    """The settings field of a source table's URL: one per entry of contracts.SOURCE_TABLES."""
    return f"{table.asset_name}_url"


def source_url_env(table: SourceTable) -> str:
    """The variable a source table's URL is read from (FINANCE_RECON_ORDERS_URL)."""
    return env_name(source_url_field(table))


ENV_HOME = env_name("home")
ENV_ORDERS_URL = env_name("orders_url")
ENV_PAYMENTS_URL = env_name("payments_url")
ENV_REPORTS_URI = env_name("reports_uri")
ENV_WAREHOUSE_TARGET = env_name("warehouse_target")
ENV_WAREHOUSE_PATH = env_name("warehouse_path")
ENV_S3_ENDPOINT_URL = env_name("s3_endpoint_url")
ENV_ICEBERG_CATALOG_URL = env_name("iceberg_catalog_url")
ENV_LOOK_BACK_MINUTES = env_name("look_back_minutes")
ENV_EXTRACT_BATCH_ROWS = env_name("extract_batch_rows")
ENV_TOLERANCE = env_name("tolerance")
ENV_GRACE_MINUTES = env_name("grace_minutes")
ENV_SLA_MINUTES = env_name("sla_minutes")
ENV_WARN_MINUTES = env_name("warn_minutes")
ENV_SOURCE_LAG_WARN_MINUTES = env_name("source_lag_warn_minutes")
ENV_SOURCE_LAG_FAIL_MINUTES = env_name("source_lag_fail_minutes")
ENV_ALERTMANAGER_URL = env_name("alertmanager_url")
ENV_ALERT_WEBHOOK_URL = env_name("alert_webhook_url")
ENV_FINANCE_WEBHOOK_URL = env_name("finance_webhook_url")
ENV_RUNBOOK_URL = env_name("runbook_url")
ENV_SLO_OBJECTIVE = env_name("slo_objective")  # freshness SLO; the Prometheus rules ship 0.99 too
ENV_PROMETHEUS_URL = env_name("prometheus_url")  # where `diagnose` reads the SLO's error budget
ENV_LANDING_ENGINE = env_name("landing_engine")
ENV_LAKE_DIR = env_name("lake_dir")
ENV_SPARK_MASTER = env_name("spark_master")
ENV_SPARK_PARTITIONS = env_name("spark_partitions")
ENV_SPARK_DRIVER_MEMORY = env_name("spark_driver_memory")
ENV_JDBC_JARS = env_name("jdbc_jars")
ENV_LANDING_SCHEMA = env_name("landing_schema")
ENV_DBT_PROJECT_DIR = env_name("dbt_project_dir")
ENV_MYSQL_READER = env_name("mysql_reader")
ENV_PROBE_ENABLED = env_name("probe_enabled")  # the correctness prober (finance_recon/probe/)
ENV_PROBE_UNMATCHED_EVERY = env_name("probe_unmatched_every")


def _field_of(loc: tuple[Any, ...]) -> str | None:
    """The field an error's location names (a field name or one of its variables)."""
    key = str(loc[0]) if loc else ""
    if key in Settings.model_fields:
        return key
    return next((f for f in Settings.model_fields if key.upper() in env_names(f)), None)


def _settings_error(exc: ValidationError) -> SettingsError:
    error = exc.errors()[0]
    field = _field_of(error["loc"])
    if field is None:
        return SettingsError(f"settings are invalid: {error['msg']}")
    extra = Settings.model_fields[field].json_schema_extra
    expected = extra["expected"] if isinstance(extra, dict) else error["msg"]
    return SettingsError(
        f"environment variable {env_name(field)}={error.get('input')!r} is invalid: expected {expected}"
    )


def load_settings() -> Settings:
    """Read the environment, for an entry point (the CLI, `definitions.defs`, the exporter), which
    hands the result down; library code takes a `Settings`.

    Raises `SettingsError` (one line naming the variable, its value and what is expected).
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise _settings_error(exc) from None


def settings_under(settings: Settings, variables: Mapping[str, str]) -> Settings:
    """These settings as the environment `variables` (FINANCE_RECON_… names; others are ignored)
    would make them: each value validated as when read from the environment. For a drill that
    points the deployment elsewhere (runbook/cause_drill.py)."""
    updates = {}
    for variable, value in variables.items():
        field = _field_of((variable,))
        if field is not None:
            updates[field] = value
    try:
        changed = Settings.from_values(**{**settings.model_dump(), **updates})
    except ValidationError as exc:
        raise _settings_error(exc) from None
    # The source URLs stay "the default" unless the variables name them.
    changed._orders_url_is_default = settings.orders_url_is_default and "orders_url" not in updates
    changed._payments_url_is_default = settings.payments_url_is_default and "payments_url" not in updates
    return changed


def settings_table_markdown() -> str:
    """The README's table of variables (tests/test_settings_table.py keeps the README equal to it)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        rows.append(
            f"| {' / '.join(f'`{v}`' for v in env_names(name))} | {extra.get('shown') or _shown(field.default)} "
            f"| {field.description} |"
        )
    return "\n".join(rows) + "\n"


def _shown(default: Any) -> str:
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


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
