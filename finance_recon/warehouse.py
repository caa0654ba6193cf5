"""The warehouse: what the assets ask of an engine (`Warehouse`), and the embedded DuckDB file.

`Warehouse` is the one seam between the assets and the engine that holds the tables. The assets,
checks and CLI call its operations and never ask which engine they hold; `finance_recon/engines/`
implements it once per dbt target (the DuckDB file, Trino over Iceberg) and `finance_recon/resources.py`
picks the implementation from FINANCE_RECON_WAREHOUSE_TARGET, as Dagster's examples swap a local and
a production resource under the same assets.

`WarehouseResource` is the DuckDB file itself: DuckDB allows one writer process at a time, so
connections are opened per step and closed at once; readers outside the run (metrics, alerting) read
the published manifests instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from dagster import ConfigurableResource

LANDING_SCHEMA = "landing"
REPORT_TABLE = "finance_reconciliation_report"
REPORT_TOTALS_TABLE = "finance_reconciliation_report_totals"


def connect(path: str | Path, read_only: bool = False):
    import duckdb

    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path), read_only=read_only)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


class WarehouseResource(ConfigurableResource):
    """Where orders and payments land and where dbt builds the reconciliation (DuckDB by default)."""

    path: str
    target: str = "duckdb"
    # FINANCE_RECON_WAREHOUSE_MEMORY_LIMIT, as dbt gets it: applied where a step asks for it
    # (`bounded`); None or not asked, DuckDB's default (80% of the machine's memory).
    memory_limit: str | None = None

    @contextmanager
    def connection(self, read_only: bool = False, spill_to: Path | None = None) -> Iterator:
        """`spill_to`: hold DuckDB to `memory_limit` and spill beyond it into that folder (the report's
        breaks, whose number grows with the shop; a read-only database has no temp file of its own)."""
        conn = connect(self.path, read_only=read_only)
        if spill_to is not None:
            if self.memory_limit:
                conn.execute("SET memory_limit = ?", [self.memory_limit])
            conn.execute("SET temp_directory = ?", [str(spill_to)])
        try:
            yield conn
        finally:
            conn.close()


class Warehouse(Protocol):
    """What the assets, checks and CLI ask of the warehouse engine (the `warehouse` resource).

    The landing's quarantine (stage → blocking contract check → promote; sources/landing.py):
    `batch_for_check`, `mark_checked`, `promote_checked`, `quarantined_keys`, `accept_rows`.
    The dbt step: `write_run_parameters`, `carry_state_forward`, `dbt_env`, `dbt_state_anchor`,
    `record_verified_build`.
    The report: `models_frame`, `report_inputs`, `add_resolved_items`, `record_report_run`.
    """

    target: str  # the dbt target of dbt_project/profiles.yml
    STORAGE_KIND: str  # the kind the UI shows for the tables it holds (the report table among them)

    def batch_for_check(self, table: Any, *, chunk_rows: int) -> AbstractContextManager[Any]:
        """The staged batch the contract check validates (quality/batches.py `Batch`)."""
        ...

    def mark_checked(self, table: Any) -> None:
        """The staged batch passed its blocking contract check: the next promote may land it."""
        ...

    def promote_checked(self, tables: tuple[Any, ...]) -> Mapping[str, Any]:
        """Land the checked staged batches (upsert, change log, watermark); per table its `Landed`."""
        ...

    def quarantined_keys(self, table: Any) -> set[str] | None:
        """The primary keys (as text) of the quarantined (pending) batch; None: nothing is pending."""
        ...

    def accept_rows(self, table: Any, *, reason: str, accepted_by: str, keys: set[str]) -> int:
        """Record the pending batch's versions of `keys` as accepted by an operator; how many."""
        ...

    def write_run_parameters(self, params: Any, run_id: str) -> None:
        """This run's as_of, τ and G where the models read them (no --vars: partial parse holds)."""
        ...

    def dbt_env(self) -> dict[str, str]:
        """The environment dbt_project/profiles.yml and the sources read, for this deployment."""
        ...

    def dbt_state_anchor(self) -> str:
        """A path whose folder keeps dbt's parse state for this warehouse (reconciliation/parse_cache.py)."""
        ...

    def carry_state_forward(self, params: Any, run_id: str, project_fingerprint: str) -> Any:
        """When nothing is dirty since the last verified build, record the state as current at this
        run's as_of without building (reconciliation/carry_forward.py); the `CarryForward` says
        whether it did, and why (not)."""
        ...

    def record_verified_build(self, run_id: str, project_fingerprint: str) -> None:
        """Every dbt test of this run's build, by the dbt project with this fingerprint, passed: later
        runs skip the rows it verified, and may carry its state forward."""
        ...

    def models_frame(self, sql_of: Callable[[str], str], step: str) -> Any:
        """A pandas frame of `sql_of(<the models' schema, qualified>)`, read where the models live."""
        ...

    def report_inputs(self, folder: Path) -> WarehouseResource:
        """A DuckDB warehouse holding the report's inputs (`main.rpt_*`, the breaks, the watermarks)."""
        ...

    def add_resolved_items(self, marts: WarehouseResource, previous_breaks: Path | None) -> None:
        """Make the items of the previous run's breaks readable in `marts` (no-op where they are)."""
        ...

    def record_report_run(self, row: dict[str, Any], currencies: list[dict[str, Any]]) -> None:
        """The published run's row in `finance_reconciliation_report`, its totals per currency."""
        ...
