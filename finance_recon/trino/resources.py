"""The Trino engine as resources: the warehouse (Iceberg tables under one catalog and schemas) and the
landing that fills it (the platform's readers, then a PyIceberg commit; docs/engines.md).

`finance_recon/resources.py` picks these when FINANCE_RECON_WAREHOUSE_TARGET=trino; the assets are
the same as on DuckDB. Everything a deployment writes lives under `catalog`.`schema` (the dbt
models), `catalog`.`landing_schema` and `catalog`.`control_schema`: two deployments (or two tests)
on one Trino give different schemas and never collide.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, ClassVar

from dagster import AssetExecutionContext, ConfigurableResource
from pydantic import Field

from finance_recon.contracts import SourceTable
from finance_recon.sources.extract import ExtractResult
from finance_recon.sources.policy import plan_read
from finance_recon.sources.resources import LandingResource
from finance_recon.sources.urls import SourceUrl

from .client import TrinoServer, TrinoSession, session
from .iceberg import IcebergCatalogError, open_catalog, replace_contents
from .landing import TrinoLanding


class TrinoWarehouseResource(ConfigurableResource):
    """Where the Trino target lands, reconciles and records: Iceberg tables through one Trino."""

    host: str = "127.0.0.1"
    port: int = 8080
    user: str = "finance_recon"
    catalog: str = Field(default="iceberg", description="The Iceberg catalog every table lives in.")
    models_schema: str = Field(default="finance_recon", description="The dbt models' schema.")
    landing_schema: str = Field(default="finance_recon_landing", description="The landed sources.")
    control_schema: str = Field(default="finance_recon_control", description="Run parameters, builds.")
    # Iceberg's JDBC catalog, for the landing writes (PyIceberg): its database (a SQLAlchemy URL; an
    # EnvVar when it carries a password) and the S3 endpoint of the data files (None: local files).
    iceberg_catalog_uri: str = "postgresql://postgres@127.0.0.1:5432/finance_recon_iceberg"
    s3_endpoint_url: str | None = None
    target: str = "trino"
    # A local folder for what dbt keeps between runs (its parse state, each run's target folder).
    local_dir: str = ".finance_recon/trino"

    @property
    def server(self) -> TrinoServer:
        return TrinoServer(self.host, self.port, self.user)

    @contextmanager
    def session(self, step: str) -> Iterator[TrinoSession]:
        with session(self.server, step) as conn:
            yield conn

    def landing(self, conn: TrinoSession) -> TrinoLanding:
        return TrinoLanding(conn, self.catalog, self.landing_schema)

    def checked_batch(self, table: SourceTable) -> tuple[Any, bool, int]:
        """What the contract check validates: the staged batch less operator-accepted versions, read
        from Iceberg as Arrow by PyIceberg (through Trino's protocol, 1M rows took ~45 s of JSON);
        whether it is a full read; how many staged versions were accepted."""
        import pyarrow as pa
        import pyarrow.compute as pc

        with self.session(f"reading the {table.asset_name} batch for its contract check") as conn:
            landing = self.landing(conn)
            full_read = landing.pending_mode(table) == "full_refresh"
            accepted = {
                (key, ts)
                for key, ts in conn.execute(
                    f"SELECT row_key, updated_at FROM {landing.rel('_accepted_rows')} "
                    f"WHERE source_table = '{table.asset_name}'"
                )
            }
        identifier = (self.landing_schema, f"{table.asset_name}__last_batch")
        try:
            scanned = self.iceberg_catalog().load_table(identifier).scan().to_arrow()
        except IcebergCatalogError:
            raise
        except Exception as exc:
            raise IcebergCatalogError(f"cannot read Iceberg table {'.'.join(identifier)}: {exc}") from None
        # The contract's types, every column nullable: a NULL is the check's to report, not the cast's.
        schema = pa.schema([field.with_nullable(True) for field in table.arrow_schema])
        data = scanned.select(table.column_names).cast(schema)
        if not accepted:
            return data, full_read, 0
        keys = pc.cast(data[table.primary_key], pa.string())
        candidates = pc.is_in(keys, value_set=pa.array(sorted({key for key, _ in accepted}), pa.string()))
        drop = [
            bool(flag) and (keys[i].as_py(), data["updated_at"][i].as_py()) in accepted
            for i, flag in enumerate(candidates.to_pylist())
        ]
        kept = data.filter(pc.invert(pa.array(drop, pa.bool_())))
        return kept, full_read, data.num_rows - kept.num_rows

    def iceberg_catalog(self):
        """PyIceberg's view of the same Iceberg catalog (the JDBC catalog's name is the Trino catalog's)."""
        return open_catalog(self.catalog, self.iceberg_catalog_uri, self.s3_endpoint_url)

    def dbt_env(self) -> dict[str, str]:
        """What dbt_project/profiles.yml and the sources read, for this deployment."""
        return {
            "FINANCE_RECON_TRINO_HOST": self.host,
            "FINANCE_RECON_TRINO_PORT": str(self.port),
            "FINANCE_RECON_TRINO_USER": self.user,
            "FINANCE_RECON_TRINO_CATALOG": self.catalog,
            "FINANCE_RECON_TRINO_SCHEMA": self.models_schema,
            "FINANCE_RECON_LANDING_CATALOG": self.catalog,
            "FINANCE_RECON_LANDING_SCHEMA": self.landing_schema,
            "FINANCE_RECON_CONTROL_SCHEMA": self.control_schema,
        }


class TrinoLandingResource(LandingResource):
    """The Trino target's landing: each batch is read from the source into the Iceberg table
    `<landing_schema>.<table>__last_batch`, promoted once its contract check passed."""

    STORAGE_KINDS: ClassVar[frozenset[str]] = frozenset({"trino", "iceberg"})

    def landed_where(self, table: SourceTable) -> str:
        return f"the Iceberg table `<landing schema>.{table.asset_name}`"

    def batch_where(self, table: SourceTable) -> str:
        return f"the Iceberg table `<landing schema>.{table.asset_name}__last_batch`"

    PROBED: ClassVar[bool] = (
        False  # the prober is the embedded engine's (docs/operations.md; preflight refuses it here)
    )

    def land(
        self,
        context: AssetExecutionContext,
        table: SourceTable,
        source: Any,
        full_refresh: bool,
        writes: AbstractContextManager | None = None,
    ) -> dict[str, Any]:
        warehouse: TrinoWarehouseResource = context.resources.warehouse
        result = land_with_trino(
            warehouse,
            table,
            source.url,
            look_back_minutes=source.look_back_minutes,
            batch_rows=source.batch_rows,
            full_refresh=full_refresh,
            run_id=context.run_id,
            mysql_reader=source.mysql_reader,
            writes=writes,
        )
        context.log.info(
            f"staged {result.rows_extracted} {table.asset_name} rows in {warehouse.catalog}."
            f"{warehouse.landing_schema} ({result.mode}: {result.reason})"
        )
        return result.metadata()


def land_with_trino(
    warehouse: TrinoWarehouseResource,
    table: SourceTable,
    source_url: str,
    *,
    look_back_minutes: int = 10,
    batch_rows: int = 100_000,
    full_refresh: bool = False,
    run_id: str | None = None,
    promote_now: bool = False,
    mysql_reader: str = "client",
    writes: AbstractContextManager | None = None,
) -> ExtractResult:
    """Stage one source table's batch in the Trino warehouse (`promote_now`: land it at once, for tests
    and benchmarks of the landing itself). The source is read by the platform's reader (Arrow, the
    same contract check of its columns as on DuckDB) and committed to Iceberg by PyIceberg.

    `writes` (a lock shared by the tables one step lands at once, sources/concurrent.py) is held while
    the tables every source shares are written (the landing schema's DDL, `_pending_batches`): two
    commits to one Iceberg table race. The read itself, into the table's own `__last_batch`, is not
    held."""
    from finance_recon.sources.readers import open_reader

    started = time.perf_counter()
    started_at = datetime.now(UTC)
    source = SourceUrl.parse(source_url)
    writes = writes if writes is not None else nullcontext()
    with warehouse.session(f"landing {table.asset_name}") as conn:
        landing = warehouse.landing(conn)
        with writes:
            landing.ensure(table)
            previous = landing.read_watermark(table)
        plan = plan_read(
            previous_source=previous.source if previous else None,
            previous_watermark=previous.max_updated_at if previous else None,
            source=source.redacted,
            full_refresh=full_refresh,
            look_back_minutes=look_back_minutes,
        )
        catalog = warehouse.iceberg_catalog()
        with open_reader(source, mysql_reader=mysql_reader) as reader:
            # The source's own columns first: a drifted column fails here, before a row is read.
            checked = reader.check_contract(table)

            def fill_batch() -> int:
                batches = reader.read(table, plan.read_since, batch_rows, checked)
                identifier = (warehouse.landing_schema, f"{table.asset_name}__last_batch")
                return replace_contents(catalog, identifier, batches, table.arrow_schema)

            read_started = time.perf_counter()
            landed = landing.stage(
                table,
                fill_batch,
                plan,
                source_label=source.redacted,
                run_id=run_id,
                started_at=started_at,
                writes=writes,
            )
            read_s = time.perf_counter() - read_started
        if promote_now:
            with writes:
                landing.mark_checked(table)
                landed = landing.promote((table,)).get(table.asset_name, landed)
    return ExtractResult(
        table=table.asset_name,
        source=source.redacted,
        mode=plan.mode,
        reason=plan.reason,
        rows_extracted=landed.rows_extracted,
        rows_total=landed.rows_total,
        read_since=plan.read_since,
        watermark_before=plan.watermark_before,
        watermark_after=landed.watermark_after,
        duration_s=time.perf_counter() - started,
        read_s=read_s,
        batch_table=f"{warehouse.catalog}.{warehouse.landing_schema}.{table.asset_name}__last_batch",
    )


# ------------------------------------------------------------------------------ warehouse operations
# What the steps above the landing ask of the Trino warehouse: the same operations the embedded path
# performs on its DuckDB file (sources/landing.py, reconciliation/parameters.py, report/table.py).

_TS = "TIMESTAMP(6) WITH TIME ZONE"
_TRINO_DDL_TYPES = {"VARCHAR": "VARCHAR", "TIMESTAMPTZ": _TS, "BIGINT": "BIGINT", "INTEGER": "INTEGER"}


def trino_type(duckdb_type: str) -> str:
    """The Trino type of a DuckDB column type of the platform's tables (constraints dropped)."""
    base = duckdb_type.split()[0]
    if base.startswith("DECIMAL"):
        return base.replace(",", ", ")
    return _TRINO_DDL_TYPES[base]


def write_run_parameters(warehouse: TrinoWarehouseResource, params, run_id: str) -> None:
    """This run's as_of, τ and G into `<control>.run_parameters`, which the models read (no --vars:
    the prepared manifest stays valid); the build tables are created beside it."""
    from .client import literal, qualified

    def rel(name: str) -> str:
        return qualified(warehouse.catalog, warehouse.control_schema, name)

    with warehouse.session("writing the run parameters") as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(warehouse.catalog, warehouse.control_schema)}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {rel('run_parameters')} (seq BIGINT, run_id VARCHAR, as_of {_TS}, "
            f"tolerance DECIMAL(18, 6), grace_minutes INTEGER, written_at {_TS})"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {rel('verified_builds')} (seq BIGINT, run_id VARCHAR, verified_at {_TS}, "
            "project_fingerprint VARCHAR)"
        )
        # Deployments written before the fingerprint was recorded (their builds carry no state forward).
        conn.execute(
            f"ALTER TABLE {rel('verified_builds')} ADD COLUMN IF NOT EXISTS project_fingerprint VARCHAR"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {rel('state_builds')} (seq BIGINT, run_id VARCHAR, as_of {_TS}, "
            f"consumed_change_batch BIGINT, built_at {_TS})"
        )
        conn.execute(
            f"INSERT INTO {rel('run_parameters')} SELECT coalesce(max(seq), 0) + 1, {literal(run_id)}, "
            f"{literal(params.as_of)}, CAST({literal(str(params.tolerance))} AS DECIMAL(18, 6)), "
            f"{int(params.grace_minutes)}, current_timestamp(6) FROM {rel('run_parameters')}"
        )


def record_verified_build(warehouse: TrinoWarehouseResource, run_id: str, project_fingerprint: str) -> None:
    """As the embedded engine's (finance_recon/reconciliation/parameters.py)."""
    from .client import literal, qualified

    runs = qualified(warehouse.catalog, warehouse.control_schema, "run_parameters")
    verified = qualified(warehouse.catalog, warehouse.control_schema, "verified_builds")
    with warehouse.session("recording the verified build") as conn:
        conn.execute(
            f"INSERT INTO {verified} (seq, run_id, verified_at, project_fingerprint) "
            f"SELECT seq, run_id, current_timestamp(6), {literal(project_fingerprint)} FROM {runs} "
            f"WHERE run_id = {literal(run_id)} ORDER BY seq DESC LIMIT 1"
        )
