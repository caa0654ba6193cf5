"""`SourceDatabaseResource`: where one contract table is read from, and how.

`url` is a SQLAlchemy-style URL; deployments pass `dagster.EnvVar("FINANCE_RECON_ORDERS_URL")` so the
password never shows in the UI. Everything this resource logs or reports uses `redacted_url`.
"""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

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

    @property
    def source_url(self) -> SourceUrl:
        return SourceUrl.parse(self.url)

    @property
    def redacted_url(self) -> str:
        return self.source_url.redacted
