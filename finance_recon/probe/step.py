"""The probe's part of an extraction step: claim the run's cycle, write this source's synthetic rows.

Called by the step of the batch assets (`source_batches`: `orders_batch`, `payments_batch`) for each table
before the tables are read (finance_recon/sources/assets.py),
only when the source resource has `probe_enabled`. A write the source refuses (no INSERT
privilege, the source down) is one warning line and a row in `control.probe_errors`, which makes
this run's probe fail; it never fails the run — the extraction that follows reports a source that
is really down on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finance_recon.contracts import SourceTable
from finance_recon.probe.control import claim_cycle, record_error
from finance_recon.probe.inject import write_probe_rows
from finance_recon.sources.errors import one_line
from finance_recon.sources.landing import warehouse_connection
from finance_recon.sources.urls import redact

if TYPE_CHECKING:
    from finance_recon.settings import Settings


def _run_parameters(context: Any, config_class: type | None = None):
    """as_of and τ exactly as the dbt step will resolve them from this run's config (`config_class`:
    the deployment's `ReconciliationConfig`, whose defaults a run without config uses)."""
    from finance_recon.names import DBT_ASSETS_NAME
    from finance_recon.reconciliation.parameters import ReconciliationConfig, resolve

    ops = (context.run.run_config or {}).get("ops", {})
    config = (ops.get(DBT_ASSETS_NAME) or {}).get("config", {})
    return resolve(context, (config_class or ReconciliationConfig)(**config))


def inject(
    context: Any,
    table: SourceTable,
    url: str,
    warehouse: Any,
    *,
    unmatched_every: int,
    config_class: type | None = None,
) -> None:
    try:
        params = _run_parameters(context, config_class)
        with warehouse_connection(warehouse) as conn:
            items = claim_cycle(
                conn, context.run_id, unmatched_every=unmatched_every, tolerance=params.tolerance
            )
    except Exception as exc:  # the probe never fails the run; it cannot even record its failure here
        context.log.warning(f"correctness probe: no cycle claimed for {table.table}: {one_line(exc)}")
        return
    ids = ", ".join(str(i.order_id if table.primary_key == "order_id" else i.payment_id) for i in items)
    try:
        written = write_probe_rows(table, url, items, as_of=params.as_of, now=datetime.now(UTC))
    except Exception as exc:
        message = (
            f"correctness probe: cannot write synthetic {table.table} {ids} into {redact(url)}: "
            f"{one_line(exc)} — the prober needs SELECT and INSERT on {table.table}; probe marked failed"
        )
        context.log.warning(message)
        with warehouse_connection(warehouse) as conn:
            record_error(conn, context.run_id, table.asset_name, message)
        return
    context.log.info(
        f"correctness probe: cycle {items[0].cycle}, {written} new synthetic {table.table} row(s) ({ids})"
    )


def build_before_read(settings: Settings) -> Callable[[Any, SourceTable, Any], None]:
    """The source assets' `before_read` hook of this deployment: the cycle's synthetic rows, when the
    prober is on (τ as this deployment's dbt step resolves it)."""
    from finance_recon.reconciliation.parameters import reconciliation_config

    config_class = reconciliation_config(settings)

    def before_read(context: Any, table: SourceTable, source: Any) -> None:
        if source.probe_enabled:
            inject(
                context,
                table,
                source.url,
                context.resources.warehouse,
                unmatched_every=source.probe_unmatched_every,
                config_class=config_class,
            )

    return before_read
