"""The source assets, two per source table (contracts.SOURCE_TABLES), whatever the landing engine:

    orders_batch ──[orders_batch:contract, blocking]──▶ orders ──▶ dbt (stg_shop__orders)

- `<table>_batch` reads the run's rows from the source and stages them (`landing.<table>__last_batch`);
  its blocking contract check (quality/checks.py) validates exactly that batch.
- `<table>` is the landed table: it merges the checked batch into `landing.<table>` (upsert by
  primary key, change log, watermark: the warehouse's `promote_checked`). A failed check skips it, so
  a failed batch is never landed and its watermark does not move (quarantine, sources/landing.py).

Failure taxonomy of the read (contracts §1, issues 3 and 25): a source that cannot be reached is
retried as often and as soon as its reason deserves (`errors.retry_plan`: a refused connection on
loopback once, after 2 s; a timeout or a lost connection longer), each retry logged with its cause
and the time of the next attempt (the CLI prints it under the extract stage); a refused login fails
at once; a contract violation (missing column, changed type) is permanent (`allow_retries=False`);
any other error is retried only when `runs/facts.py` classifies it retryable. Either way nothing is
written: the batch is staged in one warehouse transaction after the whole batch has been read.

The engine is the `landing` resource (`sources/resources.py`: `EmbeddedLandingResource`, or Spark's
or Trino's), chosen per deployment in one place (`finance_recon/resources.py`). Keys, owners, config,
retry policy and failure handling are the same for every engine; its kinds and descriptions come from it.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Backoff,
    Config,
    Failure,
    Jitter,
    MaterializeResult,
    RetryPolicy,
    RetryRequested,
    asset,
)
from pydantic import Field

from ..contracts import SOURCE_TABLES, SourceTable
from ..runs.facts import classify, one_line
from .errors import SourceError, SourceUnavailableError, retry_plan
from .resources import EmbeddedLandingResource, LandingResource

OWNERS = ["team:data-platform"]

# 4 attempts over ~35 s: enough for a database restart or a failover, short of hiding an outage.
SOURCE_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=5, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


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
    """The asset of the batch a run reads of `table` and stages (the tests build it with a faster
    retry policy).

    `landing` is the deployment's landing resource: its kinds and descriptions label the asset, and
    the definitions provide it under the `landing` key. Without one, the asset lands with the embedded
    engine and needs no `landing` resource (tests materialize it alone). `before_read(context, table,
    source resource)` runs first in the step: the definitions wire the correctness prober there
    (finance_recon/probe/), which sits above this layer."""
    engine = landing if landing is not None else EMBEDDED_LANDING
    source_resource_key = table.source_resource_key

    @asset(
        name=table.batch_asset_name,
        owners=OWNERS,
        kinds=engine.batch_kinds(table),
        description=engine.batch_description(table),
        required_resource_keys={
            "warehouse",
            source_resource_key,
            *(["landing"] if landing is not None else []),
        },
        retry_policy=retry_policy,
        metadata={
            "batch_table": f"landing.{table.asset_name}__last_batch",
            "primary_key": table.primary_key,
            **engine.DEFINITION_METADATA,
        },
    )
    def _read_and_stage(context: AssetExecutionContext, config: ExtractConfig) -> MaterializeResult:
        source = getattr(context.resources, source_resource_key)
        if before_read is not None:  # e.g. the correctness prober's synthetic rows (wired from above)
            before_read(context, table, source)
        try:
            lander = context.resources.landing if landing is not None else EMBEDDED_LANDING
            metadata = lander.land(context, table, source, config.full_refresh)
        except SourceUnavailableError as exc:
            _retry_or_fail(context, table, exc, retry_policy)
        except SourceError as exc:
            context.log.error(str(exc))
            # `from None`: the driver's exception is already summarised in the message; its chain could
            # only add noise (and, for some drivers, connection details) to the event log.
            raise Failure(description=str(exc), allow_retries=exc.retryable) from None
        except (Failure, RetryRequested):
            raise  # already says whether it may be retried
        except Exception as exc:
            # Not one of ours: the RetryPolicy retries it only when the run-facts taxonomy calls it
            # retryable (a lock held, a timeout, a connection lost); a permanent error (a full state
            # folder, a missing table) fails the run at once instead of after ~35 s of retries.
            _kind, retryable = classify(f"{type(exc).__name__} {exc}")
            if retryable:
                raise
            raise Failure(description=one_line(str(exc)) or type(exc).__name__, allow_retries=False) from exc
        return MaterializeResult(metadata=metadata)

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


def _retry_or_fail(
    context: AssetExecutionContext,
    table: SourceTable,
    exc: SourceUnavailableError,
    policy: RetryPolicy | None,
) -> NoReturn:
    """Retry an unreachable source as its reason deserves (`retry_plan`), saying so: the warning and
    the retry event carry the cause and the time of the next attempt. With no retry policy (tests
    that want one attempt) or when the plan is spent, fail with the cause and why it stops."""
    plan = retry_plan(exc.reason, exc.host)
    attempt = context.retry_number  # 0 on the first attempt
    retries = min(len(plan.delays), policy.max_retries if policy is not None else 0)  # the policy caps
    if attempt >= retries:
        tried = f"after {attempt + 1} attempts" if attempt else "not retried"
        message = f"{exc} — {exc.reason}, {tried} ({plan.why})"
        context.log.error(message)
        raise Failure(description=message, allow_retries=False) from None
    # The policy's delay sets the time scale: 1 for SOURCE_RETRY_POLICY, tests build faster ones.
    wait = plan.delays[attempt] * (policy.delay or 0) / SOURCE_RETRY_POLICY.delay
    at = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%H:%M:%SZ")
    message = (
        f"{table.asset_name}: {exc.reason} — attempt {attempt + 2} of {retries + 1} at {at} "
        f"(in {wait:.3g} s; {plan.why}): {exc}"
    )
    context.log.warning(message)
    raise RetryRequested(max_retries=retries, seconds_to_wait=wait) from SourceUnavailableError(message)


def build_source_assets(
    landing: LandingResource | None = None,
    *,
    tables: tuple[SourceTable, ...] = SOURCE_TABLES,
    before_read: Callable[[AssetExecutionContext, SourceTable, Any], None] | None = None,
) -> list[AssetsDefinition]:
    """Per source table its batch and its landed table, over one landing engine."""
    return [
        asset_def
        for table in tables
        for asset_def in (
            build_batch_asset(table, landing=landing, before_read=before_read),
            build_landed_asset(table, landing=landing),
        )
    ]
