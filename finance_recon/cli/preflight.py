"""What a run needs before it starts, checked in a second: each missing piece is one line saying
which command provides it (exit 2), instead of a traceback or retries 40 s into the run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from finance_recon.contracts import SOURCE_TABLES
from finance_recon.settings import (
    DBT_PROJECT_DIR,
    ENV_LANDING_ENGINE,
    ENV_PROBE_ENABLED,
    ENV_REPORTS_URI,
    ENV_WAREHOUSE_TARGET,
    WAREHOUSE_TARGETS,
    Settings,
    source_url_env,
)

# Where `make prepare` (dagster-dbt project prepare-and-package) writes the parsed dbt project;
# `finance_recon.reconciliation.project.dbt_project.manifest_path` names the same file.
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"


class PreflightError(Exception):
    """A missing prerequisite; `str(exc)` is the one line to show."""


def _duckdb_file(url: str) -> Path | None:
    """The file of an embedded `duckdb:///path` source URL, else None (servers are checked by the run)."""
    prefix = "duckdb:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def check_manifest(manifest: Path | None = None) -> None:
    manifest = manifest or MANIFEST_PATH
    if not manifest.exists():
        raise PreflightError(
            f"the dbt manifest {manifest} does not exist: run `make prepare` (or `dagster-dbt project "
            "prepare-and-package --file finance_recon/reconciliation/project.py`) first"
        )


def check_sources(settings: Settings) -> None:
    """Embedded DuckDB sources must exist: a missing file is not worth retrying."""
    missing_default = []
    for variable, url, is_default in (
        (source_url_env(table), settings.source_url(table), settings.source_url_is_default(table))
        for table in SOURCE_TABLES
    ):
        path = _duckdb_file(url)
        if path is None or path.exists():
            continue
        if not is_default:
            raise PreflightError(
                f"{variable} names the DuckDB file {path}, which does not exist: expected an existing "
                "source database (create one with `finance-recon seed`)"
            )
        missing_default.append(path.name)
    if missing_default:
        raise PreflightError(
            f"no embedded sources in {settings.demo_dir} ({', '.join(missing_default)} missing): run "
            "`finance-recon demo` for a demo shop, or `finance-recon seed` to load one, or set "
            f"{' / '.join(source_url_env(table) for table in SOURCE_TABLES)} to your databases"
        )


# dbt target → (the module its adapter installs, the extra that installs it); see pyproject.toml.
_TARGET_EXTRAS = {"trino": ("dbt.adapters.trino", "trino"), "spark": ("dbt.adapters.spark", "spark")}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def check_extras(settings: Settings) -> None:
    """The configured engines are installed: they are extras, not part of the default install."""
    from finance_recon.settings import ENV_LANDING_ENGINE
    from finance_recon.spark.config import load_spark_settings

    try:
        landing = load_spark_settings(settings).landing_engine
    except ValueError as exc:
        raise PreflightError(f"environment variable {exc}") from None
    if landing == "spark" and not _installed("pyspark"):
        raise PreflightError(
            f"{ENV_LANDING_ENGINE}=spark needs PySpark, an extra: pip install -e '.[spark]' (or make install-full)"
        )
    module, extra = _TARGET_EXTRAS.get(settings.warehouse_target, (None, None))
    if module and not _installed(module):
        raise PreflightError(
            f"{ENV_WAREHOUSE_TARGET}={settings.warehouse_target} needs its dbt adapter, an extra: "
            f"pip install -e '.[{extra}]' (or make install-full)"
        )


def check_source_urls(settings: Settings) -> None:
    """Every source URL parses, name a supported dialect and (for a server) a host, a numeric port
    and a database. The message names the variable, never the value (it may hold a password)."""
    from finance_recon.sources.errors import ContractViolationError
    from finance_recon.sources.urls import SourceUrl

    for variable, raw in ((source_url_env(table), settings.source_url(table)) for table in SOURCE_TABLES):
        try:
            url = SourceUrl.parse(raw)
            problem = None
            if url.dialect != "duckdb":
                if not url.url.host:
                    problem = "it names no host"
                elif url.url.port is not None and not 1 <= url.url.port <= 65535:
                    problem = "its port is not a TCP port (1-65535)"
                elif not url.database:
                    problem = "it names no database"
        except ContractViolationError as exc:
            problem = str(exc)
        if problem:
            raise PreflightError(
                f"environment variable {variable} is invalid: {problem} (expected duckdb:///path, "
                "mysql+pymysql://user@host:port/db or postgresql://user@host:port/db)"
            )


def check_warehouse_target(settings: Settings) -> None:
    if settings.warehouse_target not in WAREHOUSE_TARGETS:
        raise PreflightError(
            f"environment variable {ENV_WAREHOUSE_TARGET}={settings.warehouse_target!r} is invalid: "
            f"expected one of {', '.join(WAREHOUSE_TARGETS)} (the targets of dbt_project/profiles.yml)"
        )


def check_probe(settings: Settings) -> None:
    """The correctness prober registers its cycles in the embedded warehouse and writes its rows
    before the embedded landing reads (docs/operations.md): on another engine it would not run, so
    asking for it there is refused rather than ignored."""
    if not settings.probe_enabled:
        return
    from finance_recon.resources import landing_resource  # the one place that picks the engine

    if landing_resource(settings).PROBED:
        return
    # Name the variable that chose an engine the prober does not probe.
    for variable, value, embedded in (
        (ENV_WAREHOUSE_TARGET, settings.warehouse_target, "duckdb"),
        (ENV_LANDING_ENGINE, settings.landing_engine, "embedded"),
    ):
        if value != embedded:
            raise PreflightError(
                f"environment variable {ENV_PROBE_ENABLED}=true needs the embedded engine, but "
                f"{variable}={value}: the correctness prober runs on {variable}={embedded} only "
                f"(docs/operations.md); unset {ENV_PROBE_ENABLED} on this deployment"
            )


def check_report_store(settings: Settings) -> None:
    """A report folder must be writable before extraction starts, not found out after the
    reconciliation. The check writes and removes one hidden temporary file; S3 is checked by
    publishing (its credentials and endpoint answer only over the network)."""
    import tempfile

    if settings.reports_are_s3:
        return
    root = Path(settings.reports_uri.removeprefix("file://")).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".finance-recon-write-check."):
            pass
    except OSError as exc:
        raise PreflightError(
            f"environment variable {ENV_REPORTS_URI}={settings.reports_uri!r} is not a writable folder "
            f"({exc.strerror or type(exc).__name__}): expected a folder this user can write, or "
            "s3://bucket/prefix"
        ) from None


# Trino away is the one retryable case (issue 24): a few quick attempts, each shown, then exit 1.
TRINO_ATTEMPTS = 3
TRINO_BACKOFF_S = (1.0, 2.0)


def check_trino(settings: Settings, *, attempts: int = TRINO_ATTEMPTS, log=None) -> None:
    """On the Trino target, before any work: Trino answers (retried briefly, visibly), the catalog
    exists, and the Iceberg catalog's database answers. Each failure is one line naming the URL,
    the catalog or the variable (exit 1)."""
    import sys
    import time

    from finance_recon.cli.errors import WarehouseUnavailable
    from finance_recon.trino.client import TrinoQueryError, TrinoServer, TrinoUnavailableError, session

    if settings.warehouse_target != "trino":
        return
    log = log or (lambda line: print(line, file=sys.stderr))
    server = TrinoServer(settings.trino_host, settings.trino_port, settings.trino_user)
    for attempt in range(1, attempts + 1):
        try:
            with session(server, "the pre-run check") as conn:
                schemas = {row[0] for row in conn.execute(f'SHOW SCHEMAS FROM "{settings.trino_catalog}"')}
            break
        except TrinoUnavailableError as exc:
            if attempt == attempts:
                raise WarehouseUnavailable(
                    f"Trino at {server.url} does not answer after {attempts} attempts: start it (make services) "
                    f"or set FINANCE_RECON_TRINO_HOST / FINANCE_RECON_TRINO_PORT ({exc})"
                ) from None
            wait = TRINO_BACKOFF_S[min(attempt, len(TRINO_BACKOFF_S)) - 1]
            log(
                f"warehouse  retry   Trino at {server.url} does not answer — attempt {attempt + 1} of {attempts} in {wait:g} s"
            )
            time.sleep(wait)
        except TrinoQueryError as exc:
            if "CATALOG_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
                raise WarehouseUnavailable(
                    f"Trino at {server.url} has no catalog {settings.trino_catalog!r} "
                    f"(FINANCE_RECON_TRINO_CATALOG): expected the Iceberg catalog of docs/engines.md"
                ) from None
            raise WarehouseUnavailable(str(exc)) from None
    del schemas  # the deployment's schemas are created by its first run
    _check_iceberg_catalog_database(settings)


def _check_iceberg_catalog_database(settings: Settings) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    from finance_recon.cli.errors import WarehouseUnavailable
    from finance_recon.settings import ENV_ICEBERG_CATALOG_URL

    url = make_url(settings.iceberg_catalog_url)
    try:
        psycopg2.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password,
            dbname=url.database, connect_timeout=3,
        ).close()  # fmt: skip
    except psycopg2.Error as exc:
        cause = " ".join(str(exc).split())[:200]
        raise WarehouseUnavailable(
            f"the Iceberg catalog database {url.render_as_string(hide_password=True)} "
            f"({ENV_ICEBERG_CATALOG_URL}) does not answer: {cause}"
        ) from None


def check_run(settings: Settings) -> None:
    """Every setting a run uses, before any work: the flags are checked by the parser already."""
    check_warehouse_target(settings)
    check_probe(settings)
    check_source_urls(settings)
    check_manifest()
    check_extras(settings)
    check_sources(settings)
    check_report_store(settings)
    check_trino(settings)
