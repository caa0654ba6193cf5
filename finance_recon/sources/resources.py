"""The resources of the source assets: where a table is read from, and how it lands.

`SourceDatabaseResource`: where one contract table is read from. `url` is a SQLAlchemy-style URL;
deployments pass `dagster.EnvVar("FINANCE_RECON_ORDERS_URL")` so the password never shows in the UI.
Everything this resource logs or reports uses `redacted_url`.

`LandingResource`: the landing engine under the `orders` and `payments` assets (resource key
`landing`). The assets are the same for every engine (sources/assets.py); the engine brings the
landing itself (`land`) and what the UI shows of it (kinds, descriptions, definition metadata).
`EmbeddedLandingResource` (here) stages the batch in the DuckDB warehouse;
`finance_recon.spark.resources.SparkLandingResource` lands through Spark JDBC into a Parquet lake.
`finance_recon/resources.py` picks one per deployment (FINANCE_RECON_LANDING_ENGINE).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """How a source table lands: `land` is called by the table's asset with its source resource.

    The class-level attributes describe the engine to the UI; `build_source_asset` reads them when
    it builds the assets, so the kinds shown follow the configured engine."""

    KINDS: ClassVar[Mapping[str, frozenset[str]]] = {}  # per asset name
    DESCRIPTIONS: ClassVar[Mapping[str, str]] = {}  # per asset name
    DEFINITION_METADATA: ClassVar[Mapping[str, str]] = {}
    # Whether the correctness prober writes its synthetic rows before this engine reads
    # (docs/operations.md); the definitions wire the prober accordingly.
    PROBED: ClassVar[bool] = False

    def land(
        self, context: AssetExecutionContext, table: SourceTable, source: Any, full_refresh: bool
    ) -> dict[str, Any]:
        """Land this run's rows of `table` from `source` (a `SourceDatabaseResource`); the
        materialization's metadata. Raises `SourceError`s (retryable or not) with one-line messages."""
        raise NotImplementedError


class EmbeddedLandingResource(LandingResource):
    """The default engine: the batch is read into Arrow and staged in the DuckDB warehouse
    (`landing.<table>__last_batch`), promoted once its contract check passed (sources/extract.py)."""

    KINDS: ClassVar[Mapping[str, frozenset[str]]] = {
        "orders": frozenset({"mysql", "duckdb"}),
        "payments": frozenset({"postgres", "duckdb"}),
    }
    DESCRIPTIONS: ClassVar[Mapping[str, str]] = {
        "orders": "Shop orders from the MySQL `oltp.orders` table (contracts §1), landed in `landing.orders` "
        "with the latest version per order_id. Incremental on updated_at with a look-back window.",
        "payments": "Provider payments from PostgreSQL `public.payments` (contracts §1), landed in "
        "`landing.payments` with the latest version per payment_id. Incremental on updated_at with a look-back window.",
    }
    PROBED: ClassVar[bool] = True

    def land(
        self, context: AssetExecutionContext, table: SourceTable, source: Any, full_refresh: bool
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
        )
        return result.metadata()
