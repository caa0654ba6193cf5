"""Run the dbt project (the one implementation of the rules) over the lake, in this process.

`dbtRunner` keeps dbt in-process: on the `spark` target, dbt-spark's `session` method calls
`SparkSession.builder.getOrCreate()` and so works in the session that landed the data (no second
JVM, no metastore); on the `duckdb` target it reads the lake through the `landing.*` views.
Used by the benchmark and the equality tests. The Dagster graph keeps using its dbt CLI resource (a
subprocess: dbt-spark then starts its own local session and registers the lake itself through the
`register_landing_lake` macro).

The dbt project and the landing schema come from the deployment's `Settings`
(FINANCE_RECON_DBT_PROJECT_DIR, FINANCE_RECON_LANDING_SCHEMA), passed in; the variables set here are the
ones dbt's profiles read, for the duration of the in-process invocation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from finance_recon.settings import Settings, environment_overrides

from .lake import Lake


class DbtRunError(RuntimeError):
    pass


def dbt_env(
    *,
    target: str,
    lake: Lake | None = None,
    warehouse_path: Path | None = None,
    spark_warehouse_dir: Path | None = None,
    landing_catalog: str | None = None,
) -> dict[str, str]:
    env = {
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_VERSION_CHECK": "false",
        "FINANCE_RECON_WAREHOUSE_TARGET": target,
    }
    if warehouse_path is not None:
        env["FINANCE_RECON_WAREHOUSE_PATH"] = str(warehouse_path)
    elif "FINANCE_RECON_WAREHOUSE_PATH" not in os.environ:
        env["FINANCE_RECON_WAREHOUSE_PATH"] = "unused.duckdb"  # the duckdb output reads it unconditionally
    if lake is not None:
        env["FINANCE_RECON_LAKE_DIR"] = str(lake.root)
    if spark_warehouse_dir is not None:
        env["FINANCE_RECON_SPARK_WAREHOUSE_DIR"] = str(spark_warehouse_dir)
    if landing_catalog is not None:
        env["FINANCE_RECON_LANDING_CATALOG"] = landing_catalog
    return env


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database instance open in the process after the invocation; close it so
    the warehouse file can be opened again (read-only, or by another process: DuckDB has one writer)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            try:
                DuckDBConnectionManager._ENV.close()
            finally:
                DuckDBConnectionManager._ENV = None


def invoke_dbt(
    args: list[str],
    *,
    target: str,
    dbt_vars: Mapping[str, object],
    work_dir: Path,
    env: Mapping[str, str],
    project_dir: Path,
) -> None:
    """`dbt <args> --target <target>` in-process with `env` (from `dbt_env`) in the environment;
    artifacts and logs go to `work_dir` (never the project's own target/, which holds the manifest
    Dagster loads). Raises DbtRunError on failure."""
    from dbt.cli.main import dbtRunner

    cli = [
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target",
        target,
        "--target-path",
        str(work_dir / f"target-{target}"),
        "--log-path",
        str(work_dir / "logs"),
        "--vars",
        json.dumps(dict(dbt_vars)),
    ]
    with environment_overrides(env):
        try:
            result = dbtRunner().invoke(cli)
        finally:
            if target == "duckdb":
                _release_duckdb()
    if not result.success:
        failed = []
        for r in getattr(result.result, "results", None) or []:
            if str(getattr(r, "status", "")).lower() in ("error", "fail"):
                failed.append(f"{r.node.name}: {' '.join(str(r.message).split())[:300]}")
        detail = "; ".join(failed) or (str(result.exception) if result.exception else "see the dbt log")
        raise DbtRunError(f"dbt {' '.join(args)} --target {target} failed: {detail}")


def reconcile_on_spark(
    lake: Lake,
    dbt_vars: Mapping[str, object],
    work_dir: Path,
    command: tuple[str, ...] = ("run",),
    project_dir: Path | None = None,
    *,
    settings: Settings,
) -> None:
    """Register the lake in the current Spark session and run the models there."""
    # _landing__sources.yml defaults the source database to target.database, which dbt-spark does
    # not have; Spark accepts a "database" only when it equals the schema.
    env = dbt_env(target="spark", lake=lake, landing_catalog=settings.landing_schema)
    for args in (["run-operation", "register_landing_lake"], list(command)):
        invoke_dbt(
            args,
            target="spark",
            dbt_vars=dbt_vars,
            work_dir=work_dir,
            env=env,
            project_dir=project_dir or settings.dbt_project_dir,
        )


def reconcile_on_duckdb(
    warehouse_path: Path,
    dbt_vars: Mapping[str, object],
    work_dir: Path,
    command: tuple[str, ...] = ("run",),
    project_dir: Path | None = None,
    *,
    settings: Settings,
) -> None:
    invoke_dbt(
        list(command),
        target="duckdb",
        dbt_vars=dbt_vars,
        work_dir=work_dir,
        env=dbt_env(target="duckdb", warehouse_path=warehouse_path),
        project_dir=project_dir or settings.dbt_project_dir,
    )
