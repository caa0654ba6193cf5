"""The daily close in Dagster: the asset `finance_reconciliation_close`, one partition per business
day, and the job that closes a day, `finance_reconciliation_daily_close`.

A run of the job for partition D — one day from the UI (the job's launchpad or Partitions tab), a
range as a backfill, or `finance-recon close` (which runs the same job) — runs the close of D in a
subprocess through Dagster Pipes (`PipesSubprocessClient`): `python -m finance_recon close --date D
--pipes` reconciles with as_of = the end of D on the close's own warehouse and Dagster instance
(`close.py`) and reports the result back; the job records it as the materialization of partition D
of the close asset. A subprocess, because the close is a whole reconciliation run of the job this
code location defines: running it in-process from one of its own steps would nest one job inside
another on the same instance (its materializations would count as the rolling report's) and make
this module import the definitions that import it.

The asset is declared as an `AssetSpec` (an external asset: Dagster shows it, its partitions and
their materializations, but no asset job executes it) and the job is an op job that reports its
materializations. Declared as an executable partitioned asset, the close sat in every "Materialize
all" of the global lineage beside the unpartitioned rolling graph, and the UI made that a partition
backfill whose launch stays disabled until days are chosen: the rolling reconciliation could not be
launched from there. As an external asset it is left out of "Materialize all", which then launches
one run of the rolling graph.
"""

import sys

from dagster import (
    AssetMaterialization,
    AssetSpec,
    Failure,
    JobDefinition,
    MaterializeResult,
    OpExecutionContext,
    PipesSubprocessClient,
    in_process_executor,
    job,
    op,
)

from finance_recon.names import CLOSE_JOB_NAME, CLOSE_KEY
from finance_recon.report.close import close_partitions

# The module the close subprocess runs; its `close --pipes` verb is the worker side of the protocol.
WORKER = (sys.executable, "-m", "finance_recon", "close", "--pipes", "--date")


def build_close_spec(settings) -> AssetSpec:
    return AssetSpec(
        key=CLOSE_KEY,
        partitions_def=close_partitions(settings),
        owners=["team:finance", "team:data-platform"],
        kinds={"duckdb", "s3", "parquet"},
        description=(
            "The daily close: the report of one business day, cut off at the end of that day in "
            f"FINANCE_RECON_CLOSE_TIMEZONE ({settings.close_timezone}), published under "
            "finance-reports/close/dt=YYYY-MM-DD/ with close/latest.json. A close of a past day uses the "
            "latest versions of the rows created by its cut-off. Closed by the job "
            f"`{CLOSE_JOB_NAME}`: one day from its launchpad, a range as a backfill from its Partitions "
            "tab, or `finance-recon close --from D1 --to D2`; each closed day is a materialized "
            "partition here. The rolling report is never touched."
        ),
    )


def build_close_job(settings) -> JobDefinition:
    @op
    def close_day(context: OpExecutionContext, pipes_subprocess_client: PipesSubprocessClient) -> None:
        """Close the run's partition (one day) in the close subprocess; record its materialization."""
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
        materialized = [
            r
            for r in invocation.get_results(implicit_materializations=False)
            if isinstance(r, MaterializeResult) and r.asset_key == CLOSE_KEY
        ]
        if not materialized:
            raise Failure(
                f"close of {day}: the close subprocess reported no materialization", allow_retries=False
            )
        context.log_event(
            AssetMaterialization(asset_key=CLOSE_KEY, partition=day, metadata=materialized[-1].metadata)
        )

    # The close of one day per run. Not the rolling job's locked executor: a close runs its
    # reconciliation on its own warehouse, Dagster instance and run lock (report/close.py), so it never
    # blocks the rolling runs the freshness SLA depends on, and a backfill of a month never makes them
    # fail on a held lock.
    @job(
        name=CLOSE_JOB_NAME,
        partitions_def=close_partitions(settings),
        executor_def=in_process_executor,
        description="The daily close of one business day (a partition); backfill a range from the UI.",
    )
    def finance_reconciliation_daily_close():
        close_day()

    return finance_reconciliation_daily_close
