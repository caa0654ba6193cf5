"""The reconciliation rules (contracts §2) as a dbt project, exposed to Dagster through dagster-dbt.

dagster-dbt is imported here first, without dbt-core in view (`_import_dagster_dbt_without_dbt_core`):
this package's modules only hand dagster-dbt a prepared manifest and run `dbt build` in a subprocess,
for which dagster-dbt needs nothing from dbt-core in the Dagster process — it supports that setup
itself (dbt Fusion has no Python package). Importing dbt-core's adapters and contracts anyway cost
~1.2 s of every process that loads the definitions (the CLI, each run worker, the code server).
"""

import sys


def _import_dagster_dbt_without_dbt_core() -> None:
    """Import dagster_dbt while `import dbt` fails, unless dbt or dagster_dbt is already loaded.

    dagster_dbt/compat.py probes `from dbt.version import __version__` under `except ImportError`
    and, without it, uses its own enums for node types and statuses (the values dbt writes in its
    JSON log, which is all dagster-dbt reads from the subprocess) and skips its dbt-core version
    check. A `None` entry in sys.modules makes `import dbt` raise ImportError; it is removed again
    at once, so a later `import dbt` in this process (dbt-spark in-process, tests) works normally.
    What dagster-dbt would have used dbt-core for here is switched off in `dbt_cli.py` (the
    version subprocess and the in-process adapter). The end-to-end runs (tests/pipeline) check every
    materialization and check result dagster-dbt reads from a build; tests/test_definitions.py that
    loading the definitions imports no dbt.
    """
    if "dagster_dbt" in sys.modules or "dbt" in sys.modules:
        return
    sys.modules["dbt"] = None  # type: ignore[assignment]
    try:
        import dagster_dbt  # noqa: F401
    finally:
        if sys.modules.get("dbt", ...) is None:
            del sys.modules["dbt"]


_import_dagster_dbt_without_dbt_core()
