"""The `orders` and `payments` assets: incremental, lossless extraction into `landing.*`.

Failure taxonomy (contracts §1, issue 3): a source that is down or refuses the login raises a
retryable `Failure` (the `RetryPolicy` backs off exponentially); a contract violation (missing
column, changed type) is permanent (`allow_retries=False`). Either way nothing is written: the
landing happens in one warehouse transaction after the whole batch has been read.
"""

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Backoff,
    Config,
    Failure,
    Jitter,
    MaterializeResult,
    RetryPolicy,
    asset,
)
from pydantic import Field

from ..contracts import ORDERS, PAYMENTS, SourceTable
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


_DESCRIPTIONS = {
    "orders": "Shop orders from the MySQL `oltp.orders` table (contracts §1), landed in `landing.orders` "
    "with the latest version per order_id. Incremental on updated_at with a look-back window.",
    "payments": "Provider payments from PostgreSQL `public.payments` (contracts §1), landed in "
    "`landing.payments` with the latest version per payment_id. Incremental on updated_at with a look-back window.",
}
_KINDS = {"orders": {"mysql", "duckdb"}, "payments": {"postgres", "duckdb"}}


def build_source_asset(
    table: SourceTable, source_resource_key: str, *, retry_policy: RetryPolicy | None = SOURCE_RETRY_POLICY
) -> AssetsDefinition:
    """One extraction asset per contract table (the tests build them with a faster retry policy)."""

    @asset(
        name=table.asset_name,
        group_name=GROUP,
        owners=OWNERS,
        kinds=_KINDS[table.asset_name],
        description=_DESCRIPTIONS[table.asset_name],
        required_resource_keys={"warehouse", source_resource_key},
        retry_policy=retry_policy,
        metadata={"landing_table": f"landing.{table.asset_name}", "primary_key": table.primary_key},
    )
    def _extract(context: AssetExecutionContext, config: ExtractConfig) -> MaterializeResult:
        source = getattr(context.resources, source_resource_key)
        if source.probe_enabled:  # the correctness prober's synthetic rows, before the read
            from finance_recon.probe.step import inject

            inject(
                context,
                table,
                source.url,
                context.resources.warehouse,
                unmatched_every=source.probe_unmatched_every,
            )
        try:
            result = extract_table(
                table,
                source.url,
                context.resources.warehouse,
                look_back_minutes=source.look_back_minutes,
                batch_rows=source.batch_rows,
                full_refresh=config.full_refresh,
                run_id=context.run_id,
                logger=context.log,
            )
        except SourceError as exc:
            context.log.error(str(exc))
            # `from None`: the driver's exception is already summarised in the message; its chain could
            # only add noise (and, for some drivers, connection details) to the event log.
            raise Failure(description=str(exc), allow_retries=exc.retryable) from None
        return MaterializeResult(metadata=result.metadata())

    return _extract


orders = build_source_asset(ORDERS, "orders_source")
payments = build_source_asset(PAYMENTS, "payments_source")

source_assets = [orders, payments]
