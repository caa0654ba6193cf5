"""The dbt CLI resource, without the fixed costs dagster-dbt adds to every invocation.

`DbtCliResource.cli` (dagster-dbt 0.29.27, pinned) does two things per process before dbt starts
that this platform does not use and that cost ~5 s per run on two cores:
- `_cli_version` runs `dbt --version` in a subprocess (~3 s) to tell dbt Core from the Fusion
  engine. The dbt here is dbt Core, installed beside this interpreter: its version is the
  installed distribution's (no subprocess).
- `_initialize_dbt_core_adapter` imports dbt in the Dagster process and opens an adapter (~2 s),
  used only by `fetch_column_metadata` / `fetch_row_counts`, which the reconciliation step does not
  call. Without it the invocation runs exactly as before (dagster-dbt accepts `adapter=None`).
Both override private methods of a pinned version: the test suite's end-to-end runs cover them.
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version as installed_version
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


class LeanDbtCliResource(DbtCliResource):
    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> Any:
        return None
