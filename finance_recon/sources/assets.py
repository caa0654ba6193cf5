"""The `orders` and `payments` assets: incremental, lossless extraction into `landing.*`.

Failure taxonomy (contracts §1, issue 3): a source that is down or refuses the login raises a
retryable `Failure` (the `RetryPolicy` backs off exponentially); a contract violation (missing
column, changed type) is permanent (`allow_retries=False`); any other error is retried only when
`runs/facts.py` classifies it retryable. Either way nothing is written: the
landing happens in one warehouse transaction after the whole batch has been read.

One asset per source table, whatever the landing engine: `build_source_asset` takes a
`LandingEngine` (the embedded DuckDB landing here, the Spark JDBC landing in `spark/assets.py`),
which brings the landing function, the resources it needs, its kinds and its descriptions. Keys,
group, owners, config, retry policy and failure handling are the same for every engine.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import (
    AssetExecutionContext,
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

from ..contracts import ORDERS, PAYMENTS, SourceTable
from ..runs.facts import classify, one_line
from .errors import SourceError
from .extract import extract_table

GROUP = "sources"
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


# (context, table, source resource, full_refresh) → the materialization's metadata.
Lander = Callable[[AssetExecutionContext, SourceTable, Any, bool], dict[str, Any]]


@dataclass(frozen=True)
class LandingEngine:
    """How a source table lands: the function, the resource keys it needs beyond `warehouse` and the
    source's own, the asset kinds and descriptions per table, and extra definition metadata."""

    land: Lander
    descriptions: Mapping[str, str]
    kinds: Mapping[str, set[str]]
    resource_keys: frozenset[str] = frozenset()
    metadata: Mapping[str, str] = field(default_factory=dict)


def _land_embedded(
    context: AssetExecutionContext, table: SourceTable, source, full_refresh: bool
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
    )
    return result.metadata()


_DESCRIPTIONS = {
    "orders": "Shop orders from the MySQL `oltp.orders` table (contracts §1), landed in `landing.orders` "
    "with the latest version per order_id. Incremental on updated_at with a look-back window.",
    "payments": "Provider payments from PostgreSQL `public.payments` (contracts §1), landed in "
    "`landing.payments` with the latest version per payment_id. Incremental on updated_at with a look-back window.",
}
_KINDS = {"orders": {"mysql", "duckdb"}, "payments": {"postgres", "duckdb"}}

EMBEDDED_LANDING = LandingEngine(land=_land_embedded, descriptions=_DESCRIPTIONS, kinds=_KINDS)


def build_source_asset(
    table: SourceTable,
    source_resource_key: str,
    *,
    engine: LandingEngine = EMBEDDED_LANDING,
    retry_policy: RetryPolicy | None = SOURCE_RETRY_POLICY,
    before_read: Callable[[AssetExecutionContext, SourceTable, Any], None] | None = None,
) -> AssetsDefinition:
    """One extraction asset per contract table (the tests build them with a faster retry policy).
    `before_read(context, table, source resource)` runs first in the step: the definitions wire the
    correctness prober there (finance_recon/probe/), which sits above this layer."""

    @asset(
        name=table.asset_name,
        group_name=GROUP,
        owners=OWNERS,
        kinds=engine.kinds[table.asset_name],
        description=engine.descriptions[table.asset_name],
        required_resource_keys={"warehouse", source_resource_key, *engine.resource_keys},
        retry_policy=retry_policy,
        metadata={
            "landing_table": f"landing.{table.asset_name}",
            "primary_key": table.primary_key,
            **engine.metadata,
        },
    )
    def _extract(context: AssetExecutionContext, config: ExtractConfig) -> MaterializeResult:
        source = getattr(context.resources, source_resource_key)
        if before_read is not None:  # e.g. the correctness prober's synthetic rows (wired from above)
            before_read(context, table, source)
        try:
            metadata = engine.land(context, table, source, config.full_refresh)
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

    return _extract


orders = build_source_asset(ORDERS, "orders_source")
payments = build_source_asset(PAYMENTS, "payments_source")

source_assets = [orders, payments]
