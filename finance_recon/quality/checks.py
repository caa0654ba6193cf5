"""The asset checks: blocking contract suites on the sources and the marts, and source-lag signals.

- `orders_batch:contract`, `payments_batch:contract` — blocking, ERROR. Validate the batch the run
  extracted (`landing.<table>__last_batch`, less row versions an operator accepted) against
  contracts §1 with GX, plus, for an incremental batch, a duplicate-key probe in the source for the
  batch's keys (`source_keys`). A pass marks the batch checked; a failure skips the landed table
  (`orders`), dbt and the report in the same run, so the batch is never merged into
  `landing.<table>` (quarantine, `sources/landing.py`), the previous report and `latest.json` stay,
  and the next run checks the same rows again.
- `rpt_reconciliation_summary:report_consistency` — blocking, ERROR. The marts the report is built
  from must balance (counts add up, total_net − total_expected = Σ differences, …); checked before
  the report publishes, so an inconsistent reconciliation is never published.
- `orders_batch:source_lag`, `payments_batch:source_lag` — non-blocking. now − newest `updated_at` the run saw
  (materialization metadata `max_updated_at`): WARN above the warn threshold, ERROR above the fail
  threshold. Non-blocking on purpose: a lagging replica still reconciles correctly up to its
  watermark (the report states it), and blocking would turn a CDC delay into a missed report SLA
  too; the lag gets its own alert instead.

Each failed result carries metadata `failed_expectations` (expectation, column, rule, unexpected
count, sample values), `failed_columns`, `unexpected_count`, and a description naming table,
column and rule.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from finance_recon.contracts import SOURCE_TABLES, SourceTable
from finance_recon.names import (
    CATEGORY_SUMMARY_MODEL,
    CONTRACT_CHECK,
    CURRENCY_TOTALS_MODEL,
    ITEMS_MODEL,
    REPORT_CONSISTENCY_CHECK,
    SOURCE_LAG_CHECK,
    SUMMARY_MODEL,
)
from finance_recon.quality.suites import (
    DEFAULT_FUTURE_SKEW,
    Suite,
    report_balances_sql,
    report_suite,
    source_suite,
)
from finance_recon.warehouse import Warehouse


def _result(
    outcome, extra: dict[str, Any] | None = None, *, failure_note: str = "", batch_note: str = ""
) -> AssetCheckResult:
    failed = [r.as_dict() for r in outcome.failed]
    metadata: dict[str, Any] = {
        "suite": outcome.suite.name,
        "rows_validated": outcome.rows,
        "expectations_evaluated": len(outcome.rules) if outcome.evaluated else 0,
        "expectations_failed": len(failed),
        "unexpected_count": sum(r.unexpected_count for r in outcome.failed),
        "failed_columns": ", ".join(sorted({r.rule.column for r in outcome.failed if r.rule.column})),
        "failed_rules": ", ".join(r.rule.label for r in outcome.failed),
        "failed_expectations": MetadataValue.json(failed),
        "great_expectations_version": outcome.gx_version,
        **(extra or {}),
    }
    return AssetCheckResult(
        passed=outcome.success,
        severity=AssetCheckSeverity.ERROR,
        description=outcome.description() + batch_note + (failure_note if not outcome.success else ""),
        metadata=metadata,
    )


def validate_source_batch(
    table: SourceTable, warehouse, source_url: str | None, *, now: datetime | None = None
) -> AssetCheckResult:
    """The contract check's body (also called directly by tests): GX on the batch + source PK probe."""
    from finance_recon.quality.batches import batch_for_check, distinct_keys, frames
    from finance_recon.quality.gx_runner import KEYS_IN_MESSAGE, RuleOutcome, empty_outcome, run_suite
    from finance_recon.quality.suites import Rule
    from finance_recon.sources.landing import batch_table

    suite: Suite = source_suite(table, now or datetime.now(UTC), DEFAULT_FUTURE_SKEW)
    with batch_for_check(warehouse, table) as batch:
        data, rows, full_read = batch.data, batch.rows, batch.full_read
        # Nothing extracted (a rerun with nothing new): no row for any expectation, so GX is not even
        # imported; the result still passes and says 0 rows were validated.
        outcome = (
            run_suite(
                suite,
                frames(data, rows, table.primary_key),
                key_column=table.primary_key,
                max_keys=KEYS_IN_MESSAGE + 1,  # one more than the message names: it then says "…"
            )
            if rows
            else empty_outcome(suite, staged=batch.staged)
        )
        # The source probe exists for incremental batches, which can hide a duplicate key (see
        # `source_keys`). A full read holds every source row, so GX's exact uniqueness rule on the
        # batch already sees every duplicate: probing 1M keys again in the source (~4-10 s) adds nothing.
        probe = bool(source_url and rows and not full_read)
        keys = distinct_keys(data, table.primary_key) if probe else []
    if keys:
        from finance_recon.quality.source_keys import duplicated_source_keys

        dup = duplicated_source_keys(source_url, table, keys)
        probe = RuleOutcome(
            Rule("SourcePrimaryKeyUnique", {}, table.primary_key, "unique primary key (in the source table)"),
            success=dup.count == 0,
            unexpected_count=dup.count,
            samples=list(dup.keys),
            keys=list(dup.keys),
            key_column=table.primary_key,
        )
        outcome.rules.append(probe)
    source_probe = (
        "none (no source URL)"
        if not source_url
        else "none (empty batch)"
        if not rows
        else "skipped: a full read, the batch holds every source row (its uniqueness rule is exact)"
        if full_read
        else f"{len(keys)} keys of the batch looked up in the source"
    )
    return _result(
        outcome,
        {
            "batch_table": batch_table(table),
            "source_keys_probed": len(keys),
            "source_probe": source_probe,
            **(
                {
                    "rows_staged": batch.staged,
                    "rows_already_landed": batch.already_landed,
                    "rows_accepted": batch.accepted,
                }
                if batch.staged is not None
                else {}
            ),
        },
        batch_note=_batch_note(batch),
        # Quarantine (sources/landing.py): a failed batch is never promoted into landing.<table>.
        failure_note=(
            f" — the batch stays quarantined (not landed, watermark unchanged) and is checked again by the "
            f"next run; fix the source, or accept the failing rows: finance-recon accept {table.asset_name} "
            f"[--key {table.primary_key.upper()}] --reason ..."
        ),
    )


def _batch_note(batch) -> str:
    """Why the check validated fewer rows than the run staged (empty when it validated them all)."""
    if not batch.staged or batch.staged == batch.rows:
        return ""
    why = []
    if batch.already_landed:
        why.append(
            f"{batch.already_landed} re-read in the look-back window, identical to their landed "
            "(already checked) version"
        )
    if batch.accepted:
        why.append(f"{batch.accepted} accepted by an operator")
    return f" — of the {batch.staged} rows this run staged, {batch.rows} validated: {'; '.join(why)}"


# How many failing rows `finance-recon accept` names by key without --key (beyond: name them).
ACCEPT_MAX_KEYS = 10_000


def quarantined_rows(
    table: SourceTable, warehouse, *, max_keys: int = ACCEPT_MAX_KEYS, now: datetime | None = None
):
    """The contract suite on the pending batch (less accepted versions), each failed rule with the
    keys of its rows (up to `max_keys`): what `finance-recon accept` may take, and what it may not."""
    from finance_recon.quality.batches import batch_for_check, frames
    from finance_recon.quality.gx_runner import empty_outcome, run_suite

    suite: Suite = source_suite(table, now or datetime.now(UTC), DEFAULT_FUTURE_SKEW)
    with batch_for_check(warehouse, table) as batch:
        data, rows = batch.data, batch.rows
        if not rows:
            return empty_outcome(suite, staged=batch.staged)
        return run_suite(
            suite, frames(data, rows, table.primary_key), key_column=table.primary_key, max_keys=max_keys
        )


def build_contract_check(table: SourceTable) -> AssetChecksDefinition:
    resource_key = table.source_resource_key

    @asset_check(
        asset=AssetKey(table.batch_asset_name),
        name=CONTRACT_CHECK,
        blocking=True,
        required_resource_keys={"warehouse", resource_key},
        description=(
            f"Blocking GX suite `{table.asset_name}_contract` (contracts §1) on the rows this run extracted "
            f"(landing.{table.asset_name}__last_batch): columns and types, not-null, unique {table.primary_key} "
            "(also probed in the source), accepted values, amount range, ISO 4217 currency, no future "
            f"timestamps, created_at ≤ updated_at. A pass lets `{table.asset_name}` merge the batch; a "
            "failure keeps it quarantined and stops dbt and the report."
        ),
    )
    def _contract(context: AssetCheckExecutionContext) -> AssetCheckResult:
        source = getattr(context.resources, resource_key)
        result = validate_source_batch(table, context.resources.warehouse, source.url)
        if not result.passed:
            context.log.error(f"{table.asset_name} contract check failed: {result.description}")
        else:  # only a batch marked checked is ever merged (quarantine, sources/landing.py)
            context.resources.warehouse.mark_checked(table)
        return result

    return _contract


def validate_report_marts(warehouse: Warehouse) -> AssetCheckResult:
    from finance_recon.quality.gx_runner import run_suite

    frame = warehouse.models_frame(report_balances_sql, "checking the report's balances")
    # Money balances arrive as Decimal; the rules compare them with 0 exactly.
    return _result(run_suite(report_suite(), [frame]))


@asset_check(
    asset=SUMMARY_MODEL,
    name=REPORT_CONSISTENCY_CHECK,
    blocking=True,
    additional_deps=[ITEMS_MODEL, CATEGORY_SUMMARY_MODEL, CURRENCY_TOTALS_MODEL],
    required_resource_keys={"warehouse"},
    description=(
        "Blocking GX suite `report_consistency` on the marts the report publishes: category counts add up "
        "to the items, breaks match the break categories, per currency total_net − total_expected equals "
        "the sum of differences over order items and break_amount equals Σ|difference| over breaks, the "
        "verdict follows. "
        "A failure stops the report from publishing."
    ),
)
def report_consistency(context: AssetCheckExecutionContext) -> AssetCheckResult:
    result = validate_report_marts(context.resources.warehouse)
    if not result.passed:
        context.log.error(f"report consistency check failed: {result.description}")
    return result


# --------------------------------------------------------------------------------------------------
# Source lag


def _parse_ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def source_lag_result(
    table: str, max_updated_at: datetime | None, now: datetime, warn: timedelta, fail: timedelta
) -> AssetCheckResult:
    """PASS within `warn`; failed WARN between `warn` and `fail`; failed ERROR beyond `fail`."""
    if max_updated_at is None:
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description=f"{table}.updated_at: no max_updated_at in the latest materialization (empty source?)",
            metadata={"rule": "source lag", "column": "updated_at"},
        )
    lag = now - max_updated_at
    lag_minutes = round(lag.total_seconds() / 60, 2)
    severity = AssetCheckSeverity.ERROR if lag > fail else AssetCheckSeverity.WARN
    passed = lag <= warn
    verdict = (
        "within" if passed else ("beyond the FAIL threshold" if lag > fail else "beyond the WARN threshold")
    )
    return AssetCheckResult(
        passed=passed,
        severity=severity,
        description=(
            f"{table}.updated_at: newest change is {lag_minutes} min old, {verdict} "
            f"(warn {warn.total_seconds() / 60:g} min, fail {fail.total_seconds() / 60:g} min) — "
            "source replication/CDC lag"
        ),
        metadata={
            "column": "updated_at",
            "rule": "source lag",
            "max_updated_at": max_updated_at.astimezone(UTC).isoformat(),
            "lag_minutes": lag_minutes,
            "warn_minutes": warn.total_seconds() / 60,
            "fail_minutes": fail.total_seconds() / 60,
        },
    )


def build_source_lag_check(table: SourceTable, warn_minutes: int, fail_minutes: int) -> AssetChecksDefinition:
    key = AssetKey(table.batch_asset_name)

    @asset_check(
        asset=key,
        name=SOURCE_LAG_CHECK,
        blocking=False,
        description=(
            f"CDC/replication lag of {table.table}: now − newest updated_at the run saw. Fails with WARN beyond "
            f"{warn_minutes} min and ERROR beyond {fail_minutes} min; never blocks the report."
        ),
    )
    def _lag(context: AssetCheckExecutionContext) -> AssetCheckResult:
        event = context.instance.get_latest_materialization_event(key)
        metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
        value = metadata.get("max_updated_at")
        max_updated_at = _parse_ts(getattr(value, "value", value))
        return source_lag_result(
            table.asset_name,
            max_updated_at,
            datetime.now(UTC),
            timedelta(minutes=warn_minutes),
            timedelta(minutes=fail_minutes),
        )

    return _lag


def build_quality_checks(
    settings, tables: tuple[SourceTable, ...] = SOURCE_TABLES
) -> list[AssetChecksDefinition]:
    """Every check of this package, configured from `Settings` (lag thresholds)."""
    return [
        *(build_contract_check(table) for table in tables),
        report_consistency,
        *(
            build_source_lag_check(table, settings.source_lag_warn_minutes, settings.source_lag_fail_minutes)
            for table in tables
        ),
    ]
