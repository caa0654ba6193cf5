"""The source assets, two per source table (contracts.SOURCE_TABLES), whatever the landing engine:

    source_batches ─┬─ orders_batch ──[orders_batch:contract, blocking]──▶ orders ──▶ dbt (stg_shop__orders)
                    └─ payments_batch ─[payments_batch:contract, blocking]─▶ payments ──▶ dbt (…)

- `<table>_batch` reads the run's rows from the source and stages them (`landing.<table>__last_batch`);
  its blocking contract check (quality/checks.py) validates exactly that batch. Every table's batch
  is one step, `source_batches`, which reads the tables at once, each in its own thread
  (sources/concurrent.py): the run's executor runs one step at a time (jobs.py), so one step per
  table read them one after the other. Each batch stays its own asset, with its own checks; a UI
  materialization may select one (`can_subset`).
- `<table>` is the landed table: it merges the checked batch into `landing.<table>` (upsert by
  primary key, change log, watermark: the warehouse's `promote_checked`). A failed check skips it, so
  a failed batch is never landed and its watermark does not move (quarantine, sources/landing.py).

Failure taxonomy of the read (contracts §1, issues 3 and 25; sources/outcomes.py): a source that
cannot be reached is retried as often and as soon as its reason deserves (`errors.retry_plan`: a
refused connection on loopback once, after 2 s; a timeout or a lost connection longer), each retry
logged with its table, cause and the time of the next attempt (the CLI prints it under the extract
stage); a refused login fails at once; a contract violation (missing column, changed type) is
permanent (`allow_retries=False`); any other error is retried only when `runs/facts.py` classifies it
retryable. A table failing for good fails the run naming it; a retry reads every table again
(idempotent). Either way nothing of a failed table is written: a batch is staged in one warehouse
transaction after the whole batch has been read.

The engine is the `landing` resource (`sources/resources.py`: `EmbeddedLandingResource`, or Spark's
or Trino's), chosen per deployment in one place (`finance_recon/resources.py`). Keys, owners, config,
retry policy and failure handling are the same for every engine; its kinds and descriptions come from
it, and whether it lands the tables at once (`CONCURRENT_READS`: Spark's reads one after the other).
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    RetryPolicy,
    asset,
    multi_asset,
)
from pydantic import Field

from ..contracts import SOURCE_TABLES, SourceTable
from ..names import SOURCE_BATCHES_NAME
from .concurrent import land_each
from .outcomes import SOURCE_RETRY_POLICY, settle
from .resources import EmbeddedLandingResource, LandingResource

OWNERS = ["team:data-platform"]


class ExtractConfig(Config):
    full_refresh: bool = Field(
        default=False,
        description="Re-read the whole source table and replace the landing table (recovers commits older "
        "than the look-back window and rows deleted upstream).",
    )


# The landing of the assets built without a `landing` resource (tests materialize them alone).
EMBEDDED_LANDING = EmbeddedLandingResource()


def build_batch_asset(
    table: SourceTable,
    *,
    landing: LandingResource | None = None,
    retry_policy: RetryPolicy | None = SOURCE_RETRY_POLICY,
    before_read: Callable[[AssetExecutionContext, SourceTable, Any], None] | None = None,
) -> AssetsDefinition:
    """The asset of the batch a run reads of `table` and stages, in a step of its own named after it
    (the tests build it with a faster retry policy; an engine that cannot land tables concurrently
    has one per table). See `build_batch_assets`."""
    return build_batch_assets(
        (table,),
        landing=landing,
        retry_policy=retry_policy,
        before_read=before_read,
        name=table.batch_asset_name,
    )


def build_batch_assets(
    tables: tuple[SourceTable, ...],
    *,
    landing: LandingResource | None = None,
    retry_policy: RetryPolicy | None = SOURCE_RETRY_POLICY,
    before_read: Callable[[AssetExecutionContext, SourceTable, Any], None] | None = None,
    name: str = SOURCE_BATCHES_NAME,
) -> AssetsDefinition:
    """The batches a run reads of `tables` and stages, one asset per table (`orders_batch`, …), all
    from one step (`name`) that reads them at once, each in its own thread (sources/concurrent.py):
    the in-process executor runs one step at a time, so one step per table read them one after the
    other. A UI materialization may select some of them (`can_subset`).

    `landing` is the deployment's landing resource: its kinds and descriptions label the assets, and
    the definitions provide it under the `landing` key. Without one, the assets land with the embedded
    engine and need no `landing` resource (tests materialize them alone). `before_read(context, table,
    source resource)` runs first in the step, for each table, one after the other: the definitions
    wire the correctness prober there (finance_recon/probe/), which sits above this layer."""
    engine = landing if landing is not None else EMBEDDED_LANDING
    specs = [
        AssetSpec(
            key=AssetKey(table.batch_asset_name),
            owners=OWNERS,
            kinds=engine.batch_kinds(table),
            description=engine.batch_description(table),
            metadata={
                "batch_table": f"landing.{table.asset_name}__last_batch",
                "primary_key": table.primary_key,
                **engine.DEFINITION_METADATA,
            },
        )
        for table in tables
    ]

    @multi_asset(
        name=name,
        specs=specs,
        can_subset=len(tables) > 1,
        description=(
            None
            if len(tables) == 1
            else f"Reads {', '.join(t.table for t in tables)} at once, each in its own thread, and stages "
            "each batch for its blocking contract check."
        ),
        required_resource_keys={
            "warehouse",
            *(table.source_resource_key for table in tables),
            *(["landing"] if landing is not None else []),
        },
        retry_policy=retry_policy,
    )
    def _read_and_stage(context: AssetExecutionContext, config: ExtractConfig) -> Iterator[MaterializeResult]:
        selected = [t for t in tables if AssetKey(t.batch_asset_name) in context.selected_asset_keys]
        lander = context.resources.landing if landing is not None else EMBEDDED_LANDING
        sources = {t.asset_name: getattr(context.resources, t.source_resource_key) for t in selected}
        if before_read is not None:  # e.g. the correctness prober's synthetic rows (wired from above)
            for table in selected:
                before_read(context, table, sources[table.asset_name])

        def land(step: Any, table: SourceTable, writes: Any) -> Mapping[str, Any]:
            return lander.land(step, table, sources[table.asset_name], config.full_refresh, writes)

        outcomes = land_each(context, selected, land, concurrent=lander.CONCURRENT_READS)
        yield from settle(context, selected, outcomes, retry_policy)

    return _read_and_stage


def build_landed_asset(table: SourceTable, *, landing: LandingResource | None = None) -> AssetsDefinition:
    """The landed table `table.asset_name`: merges the batch that passed its contract check."""
    engine = landing if landing is not None else EMBEDDED_LANDING

    @asset(
        name=table.asset_name,
        deps=[AssetKey(table.batch_asset_name)],
        owners=OWNERS,
        kinds=engine.landed_kinds(table),
        description=engine.landed_description(table),
        required_resource_keys={"warehouse"},
        metadata={
            "landing_table": f"landing.{table.asset_name}",
            "primary_key": table.primary_key,
            **engine.DEFINITION_METADATA,
        },
    )
    def _merge_checked_batch(context: AssetExecutionContext) -> MaterializeResult:
        if not engine.QUARANTINES:  # Spark merged the batch into its lake as it read it
            return MaterializeResult(metadata={"rows_merged": 0, "merged": "by the landing engine at read"})
        warehouse = context.resources.warehouse
        landed = warehouse.promote_checked((table,)).get(table.asset_name)
        if landed is None:
            if warehouse.quarantined_keys(table) is not None:
                raise Failure(
                    description=(
                        f"{table.asset_name}: the staged batch has not passed `{table.batch_asset_name}:contract`, "
                        "so it stays quarantined and is not landed. Materialize "
                        f"{table.batch_asset_name} with its check, or accept its failing rows: "
                        f"finance-recon accept {table.asset_name} --reason ..."
                    ),
                    allow_retries=False,
                )
            return MaterializeResult(metadata={"rows_merged": 0, "merged": "nothing staged"})
        context.log.info(
            f"merged the checked {table.asset_name} batch: {landed.rows_extracted} rows, "
            f"{landed.rows_total} in landing"
        )
        return MaterializeResult(
            metadata={
                "rows_merged": landed.rows_extracted,
                "rows_total": landed.rows_total,
                "watermark_after": landed.watermark_after.isoformat() if landed.watermark_after else "",
                "merged": "the batch that passed its contract check",
            }
        )

    return _merge_checked_batch


def build_source_assets(
    landing: LandingResource | None = None,
    *,
    tables: tuple[SourceTable, ...] = SOURCE_TABLES,
    before_read: Callable[[AssetExecutionContext, SourceTable, Any], None] | None = None,
) -> list[AssetsDefinition]:
    """The step that reads every table's batch (`source_batches`: each in its own thread when the
    engine can, `LandingResource.CONCURRENT_READS`), then per table its landed table, over one landing
    engine."""
    return [
        build_batch_assets(tables, landing=landing, before_read=before_read),
        *(build_landed_asset(table, landing=landing) for table in tables),
    ]
