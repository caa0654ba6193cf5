"""The `finance_reconciliation_close` asset: the daily close, one partition per business day.

Materializing partition D — one day from the UI, a range as a backfill, or `finance-recon close`
(which materializes the same partitions through the same job) — runs the close of D in a
subprocess through Dagster Pipes (`PipesSubprocessClient`): `python -m finance_recon close --date D
--pipes` reconciles with as_of = the end of D on the close's own warehouse and Dagster instance
(`close.py`) and reports the result back. A subprocess, because the close is a whole reconciliation
run of the job this code location defines: running it in-process from one of its own assets would
nest one job inside another on the same instance (its materializations would count as the rolling
report's) and make this module import the definitions that import it.
"""

import sys

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    PipesSubprocessClient,
    asset,
)

from finance_recon.names import CLOSE_GROUP, CLOSE_KEY
from finance_recon.report.close import close_partitions

# The module the close subprocess runs; its `close --pipes` verb is the worker side of the protocol.
WORKER = (sys.executable, "-m", "finance_recon", "close", "--pipes", "--date")


def build_close_asset(settings) -> AssetsDefinition:
    @asset(
        key=CLOSE_KEY,
        partitions_def=close_partitions(settings),
        group_name=CLOSE_GROUP,
        owners=["team:finance", "team:data-platform"],
        kinds={"duckdb", "s3", "parquet"},
        description=(
            "The daily close: the report of one business day, cut off at the end of that day in "
            f"FINANCE_RECON_CLOSE_TIMEZONE ({settings.close_timezone}), published under "
            "finance-reports/close/dt=YYYY-MM-DD/ with close/latest.json. A close of a past day uses the "
            "latest versions of the rows created by its cut-off. Backfill a range from here or with "
            "`finance-recon close --from D1 --to D2`; the rolling report is never touched."
        ),
    )
    def finance_reconciliation_close(
        context: AssetExecutionContext, pipes_subprocess_client: PipesSubprocessClient
    ) -> MaterializeResult:
        day = context.partition_key
        invocation = pipes_subprocess_client.run(context=context, command=[*WORKER, day])
        reported = invocation.get_custom_messages()
        if not reported:
            raise Failure(f"close of {day}: the close subprocess reported no result", allow_retries=False)
        result = reported[-1]
        if result.get("outcome") != "published":
            raise Failure(
                f"close of {day} failed: {result.get('cause') or 'no cause given'}", allow_retries=False
            )
        return invocation.get_materialize_result()

    return finance_reconciliation_close
