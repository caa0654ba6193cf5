"""The resources of the source assets: where a table is read from, and how it lands.

`SourceDatabaseResource`: where one contract table is read from. `url` is a SQLAlchemy-style URL;
deployments pass `dagster.EnvVar("FINANCE_RECON_ORDERS_URL")` so the password never shows in the UI.
Everything this resource logs or reports uses `redacted_url`.

`LandingResource`: the landing engine under each source table's assets (resource key `landing`).
The assets are the same for every engine (sources/assets.py); the engine brings the landing itself
(`land`) and what the UI shows of it (kinds, descriptions, definition metadata).
`EmbeddedLandingResource` (here) stages the batch in the DuckDB warehouse;
`finance_recon.spark.resources.SparkLandingResource` lands through Spark JDBC into a Parquet lake.
`finance_recon/resources.py` picks one per deployment (FINANCE_RECON_LANDING_ENGINE).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from dagster import AssetExecutionContext, ConfigurableResource
from pydantic import Field

from ..contracts import SourceTable
from .extract import extract_table
from .urls import SourceUrl


class SourceDatabaseResource(ConfigurableResource):
    """An upstream OLTP database holding one contract table (contracts §1)."""

    url: str = Field(
        description="duckdb:////abs/path.duckdb, mysql+pymysql://user:pw@host:3306/oltp or "
        "postgresql://user:pw@host:5432/db (pass an EnvVar when it carries a password)."
    )
    look_back_minutes: int = Field(
        default=10,
        description="Incremental reads take updated_at > watermark − look_back, catching late commits.",
    )
    batch_rows: int = Field(default=100_000, description="Upper bound of rows held in memory per batch.")
    # The correctness prober (finance_recon/probe/): the extraction first writes this run's
    # synthetic rows into the source (needs INSERT on the contract table).
    probe_enabled: bool = Field(
        default=False, description="Write the correctness probe's synthetic rows first."
    )
    probe_unmatched_every: int = Field(
        default=6, description="Every N-th probe cycle adds an unmatched pair."
    )
    mysql_reader: str = Field(
        default="client",
        description="How a MySQL/MariaDB source streams: `client` (the command-line client when installed) "
        "or `pymysql`.",
    )

    @property
    def source_url(self) -> SourceUrl:
        return SourceUrl.parse(self.url)

    @property
    def redacted_url(self) -> str:
        return self.source_url.redacted


class LandingResource(ConfigurableResource):
    """How a source table lands: `land` is called by the table's batch asset with its source resource.

    The class-level attributes and the `*_kinds`/`*_description` methods describe the engine to the
    UI; `build_source_assets` reads them when it builds the assets, so what the UI shows follows the
    configured engine. Everything per table comes from its `SourceTable` (contracts.py)."""

    STORAGE_KINDS: ClassVar[frozenset[str]] = frozenset()  # where the engine keeps the landed rows
    DEFINITION_METADATA: ClassVar[Mapping[str, str]] = {}
    # Whether the correctness prober writes its synthetic rows before this engine reads
    # (docs/operations.md); the definitions wire the prober accordingly.
    PROBED: ClassVar[bool] = False
    # Whether `land` only stages the batch (merged by the landed asset once its contract check
    # passed) or writes the landed table itself (then the landed asset has nothing to merge).
    QUARANTINES: ClassVar[bool] = True
    # Whether one step may land several tables at once, each `land` in its own thread with a shared
    # `writes` lock held around its warehouse writes (sources/concurrent.py). An engine whose landing
    # is not thread-safe says False and keeps one step per table.
    CONCURRENT_READS: ClassVar[bool] = True

    def landed_where(self, table: SourceTable) -> str:
        """Where the landed table lives, for people."""
        return f"`landing.{table.asset_name}`"

    def batch_where(self, table: SourceTable) -> str:
        """Where a run's batch is staged, for people."""
        return f"`landing.{table.asset_name}__last_batch`"

    def batch_kinds(self, table: SourceTable) -> set[str]:
        return {table.source_kind, *self.STORAGE_KINDS} - {""}

    def landed_kinds(self, table: SourceTable) -> set[str]:
        return set(self.STORAGE_KINDS)

    def batch_description(self, table: SourceTable) -> str:
        return (
            f"{table.title} read from {table.source_relation} (contracts §1) by this run: the rows with "
            "updated_at after the watermark less the look-back window (every row on a full refresh), staged "
            f"as {self.batch_where(table)} for the blocking contract check."
        )

    def landed_description(self, table: SourceTable) -> str:
        return (
            f"{table.title} landed in {self.landed_where(table)}: the latest version per "
            f"{table.primary_key}. A run's batch is merged in (upsert by {table.primary_key}, change log, "
            f"watermark) only once `{table.batch_asset_name}:contract` passed; a failed batch stays "
            "quarantined and its watermark does not move."
        )

    def land(
        self,
        context: AssetExecutionContext,
        table: SourceTable,
        source: Any,
        full_refresh: bool,
        writes: AbstractContextManager | None = None,
    ) -> dict[str, Any]:
        """Land this run's rows of `table` from `source` (a `SourceDatabaseResource`); the
        materialization's metadata. Raises `SourceError`s (retryable or not) with one-line messages.

        Of `context` it uses only `resources`, `run_id` and `log`: when a step lands several tables at
        once, each call runs in a thread with a stand-in holding those three (sources/concurrent.py),
        and `writes` (a lock) is to be held around every write to the warehouse."""
        raise NotImplementedError


class EmbeddedLandingResource(LandingResource):
    """The default engine: the batch is read into Arrow and staged in the DuckDB warehouse
    (`landing.<table>__last_batch`), merged into `landing.<table>` once its contract check passed."""

    STORAGE_KINDS: ClassVar[frozenset[str]] = frozenset({"duckdb"})
    PROBED: ClassVar[bool] = True

    def land(
        self,
        context: AssetExecutionContext,
        table: SourceTable,
        source: Any,
        full_refresh: bool,
        writes: AbstractContextManager | None = None,
    ) -> dict[str, Any]:
        result = extract_table(
            table,
            source.url,
            context.resources.warehouse,
            look_back_minutes=source.look_back_minutes,
            batch_rows=source.batch_rows,
            full_refresh=full_refresh,
            run_id=context.run_id,
            logger=context.log,
            mysql_reader=source.mysql_reader,
            writes=writes,
        )
        return result.metadata()
