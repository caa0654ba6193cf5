"""The `finance_reconciliation_report` asset: lifecycle, artifacts, publish, report-table row."""

import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from finance_recon.contracts import CATEGORIES, SOURCE_TABLES
from finance_recon.names import (
    CATEGORY_SUMMARY_MODEL,
    CURRENCY_TOTALS_MODEL,
    ITEMS_MODEL,
    PIPELINE_TAG,
    REPORT_KEY,
    SUMMARY_MODEL,
)
from finance_recon.probe.evaluate import probe_section, real_rows
from finance_recon.report import page, render, reuse
from finance_recon.report.breaks import BREAKS_SCHEMA, StagedBreaks, stage_breaks
from finance_recon.report.continuity import Continuity
from finance_recon.report.history import PublishedRun, earlier_runs, previous_breaks_file, previous_run
from finance_recon.report.publish import publish, run_prefix
from finance_recon.report.resources import ReportStoreResource
from finance_recon.report.store import StoreError
from finance_recon.warehouse import LANDING_SCHEMA, WarehouseResource


def _rows(conn, sql: str) -> list[dict[str, Any]]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _display_decimal(value: Decimal) -> Decimal:
    """At least two decimals, more only when they matter: 0.000000 → 0.00, 0.005000 → 0.005."""
    cents = value.quantize(Decimal("0.01"))
    return cents if cents == value else value.normalize()


def _read_warehouse(warehouse: WarehouseResource):
    with warehouse.connection() as conn:
        summaries = _rows(conn, f"select * from main.{SUMMARY_MODEL.path[-1]}")
        if len(summaries) != 1:
            raise Failure(
                f"{SUMMARY_MODEL.path[-1]} has {len(summaries)} rows, expected exactly 1", allow_retries=False
            )
        summary = summaries[0]
        as_of = summary["as_of"].astimezone(UTC)
        categories = _rows(conn, f"select * from main.{CATEGORY_SUMMARY_MODEL.path[-1]}")
        currencies = _rows(conn, f"select * from main.{CURRENCY_TOTALS_MODEL.path[-1]}")
        watermarks = {
            f"{table}_max_updated_at": conn.execute(
                f"select max(updated_at) from {LANDING_SCHEMA}.{table} where {real_rows(table)}"
            ).fetchone()[0]
            for table in (source.asset_name for source in SOURCE_TABLES)
        }
    return summary, as_of, categories, currencies, watermarks


@asset(
    key=REPORT_KEY,
    deps=[ITEMS_MODEL, SUMMARY_MODEL, CATEGORY_SUMMARY_MODEL, CURRENCY_TOTALS_MODEL],
    group_name="report",
    owners=["team:data-platform", "team:finance"],
    # The warehouse engine's kind is added where the definitions know the engine (definitions.py).
    kinds={"s3", "parquet"},
    tags={"sla": "30m"},
    op_tags={PIPELINE_TAG: "reconciliation"},
    description=(
        "The published reconciliation: breaks.csv/.parquet, summary.json/.html and manifest.json under "
        "finance-reports/dt=YYYY-MM-DD/run=<run_id>/ (breaks unchanged since the previous run are not "
        "rewritten: the manifest references that run's files by key and hash), then latest.json, one row in "
        "finance_reconciliation_report and one per currency in finance_reconciliation_report_totals. "
        "Money is per currency, never added across currencies. Publishes nothing if any upstream check failed."
    ),
)
def finance_reconciliation_report(
    context: AssetExecutionContext,
    warehouse: ConfigurableResource,  # a `Warehouse` of finance_recon/engines/ (resources.py picks it)
    report_store: ReportStoreResource,
) -> MaterializeResult:
    # The run's parameters were resolved once, by the dbt step, and the marts carry them: the report
    # publishes the as_of, τ and G the marts were built with (it takes no parameters of its own).
    with tempfile.TemporaryDirectory(prefix="finance-recon-publish-") as scratch:
        folder = Path(scratch)
        # The DuckDB file itself, or on Trino a scratch copy of the report's inputs (trino/report_mirror.py).
        marts = warehouse.report_inputs(folder)
        summary, as_of, categories, currencies, watermarks = _read_warehouse(marts)
        tolerance = _display_decimal(summary["tolerance"])
        grace_minutes = int(summary["grace_minutes"])
        try:
            store = report_store.open()
            previous = previous_run(store, as_of)
            before = previous_breaks_file(store, previous, folder)
            earlier = earlier_runs(store, previous, page.TREND_RUNS - 1)
        except StoreError as exc:
            raise Failure(f"report store unreachable: {exc}") from exc
        warehouse.add_resolved_items(marts, before)

        # The breaks stay in the warehouse connection (a temporary table) and are streamed to the
        # CSV/Parquet files: memory does not grow with their number (breaks.py).
        with marts.connection(read_only=True, spill_to=folder / "spill") as conn:
            breaks = stage_breaks(conn, f"main.{ITEMS_MODEL.path[-1]}", before, as_of)
            probe = probe_section(conn, context.run_id, f"main.{ITEMS_MODEL.path[-1]}")
            lifecycle = breaks.lifecycle_counts()
            continuity = Continuity(
                previous_open=int(previous.manifest.get("breaks", 0)) if previous else 0,
                new=lifecycle["new"],
                resolved=lifecycle["resolved"],
                open_now=int(summary["breaks"]),
            )
            if not continuity.holds:
                raise Failure(continuity.violation(), allow_retries=False)
            document = render.summary_document(
                as_of=as_of,
                tolerance=tolerance,
                grace_minutes=grace_minutes,
                summary=summary,
                categories=categories,
                currencies=currencies,
                lifecycle=lifecycle,
                top_breaks=breaks.largest(render.TOP_BREAKS, "lifecycle <> 'resolved'"),
                watermarks=watermarks,
            )
            breaks_reuse = _breaks_reuse(store, previous, before, breaks, report_store.reuse_unchanged_breaks)
            breaks_files = [] if breaks_reuse.reused else _write_breaks(breaks, folder)
            prefix = run_prefix(as_of, context.run_id)
            file_links = {
                name: reuse.relative_link(prefix, key) for name, key in breaks_reuse.keys(prefix).items()
            }
            html = page.summary_html(document, breaks, page.trend_points(document, earlier), file_links)
        artifacts = [
            *breaks_files,
            render.Artifact("summary.json", render.summary_json(document), "application/json"),
            render.Artifact("summary.html", html, "text/html; charset=utf-8"),
        ]
        run_started_at, run_ended_at = _run_times(context)
        try:
            publication = publish(
                store,
                run_id=context.run_id,
                as_of=as_of,
                artifacts=artifacts,
                manifest_fields=_manifest_fields(document, lifecycle, continuity, probe, run_started_at),
                run_ended_at=run_ended_at,
                previous=previous,
                reused=breaks_reuse.entries,
            )
        except StoreError as exc:
            raise Failure(
                f"publishing the report failed, latest.json still names the previous run: {exc}"
            ) from exc

    row = {
        "run_id": context.run_id,
        "as_of": as_of,
        "run_started_at": run_started_at,
        "run_ended_at": run_ended_at,
        **watermarks,
        **{f"count_{c}": document["counts"][c] for c in CATEGORIES},
        "breaks": document["breaks"],
        "verdict": document["verdict"],
        "tolerance": tolerance,
        "grace_minutes": grace_minutes,
        "artifact_uri": store.url_for(publication.manifest_key),
    }
    warehouse.record_report_run(row, currencies)

    metadata: dict[str, Any] = {
        "verdict": document["verdict"],
        "as_of": render.iso(as_of),
        "breaks": document["breaks"],
        "lifecycle": MetadataValue.json(lifecycle),
        "counts": MetadataValue.json(document["counts"]),
        **{f"count_{c}": document["counts"][c] for c in CATEGORIES},
        "totals_by_currency": MetadataValue.json(document["totals_by_currency"]),
        "totals": MetadataValue.md(_totals_markdown(document["totals_by_currency"])),
        "orders_max_updated_at": document["watermarks"]["orders_max_updated_at"] or "",
        "payments_max_updated_at": document["watermarks"]["payments_max_updated_at"] or "",
        "report": MetadataValue.url(publication.url),
        **_link_metadata(store, publication, report_store.link_expiry_seconds),
        "manifest_key": publication.manifest_key,
        "previous_run_id": previous.run_id if previous else "",
        # Not silent in the UI: whether this run wrote its breaks files or references earlier ones.
        "breaks_files": breaks_reuse.describe(),
    }
    if probe is not None:
        metadata["probe_success"] = probe["success"]
        metadata["probe"] = MetadataValue.json(probe)
        if not probe["success"]:
            context.log.warning(f"correctness probe failed: {probe}")
    return MaterializeResult(metadata=metadata)


def _breaks_reuse(store, previous, before, breaks: StagedBreaks, enabled: bool) -> reuse.BreaksReuse:
    """Whether this run's breaks files are the previous run's (decided before rendering: `reuse.py`)."""
    if not enabled:
        return reuse.REWRITE
    try:
        return reuse.decide(store, previous, before, breaks)
    except StoreError as exc:
        raise Failure(f"report store unreachable: {exc}") from exc


def _write_breaks(breaks: StagedBreaks, folder: Path) -> list[render.Artifact]:
    try:
        return list(render.write_breaks(breaks.batches(), BREAKS_SCHEMA, folder))
    except OSError as exc:
        raise Failure(f"writing the breaks files in {folder} failed: {exc}") from exc


def _run_times(context) -> tuple[datetime, datetime]:
    """When this run started (from Dagster's run record) and when it ends: now."""
    record = context.instance.get_run_record_by_id(context.run_id)
    now = datetime.now(UTC)
    started = datetime.fromtimestamp(record.start_time, UTC) if record and record.start_time else now
    return started, now


def _manifest_fields(document, lifecycle, continuity, probe, run_started_at) -> dict[str, Any]:
    """What the manifest says of this run besides its files (publish.py adds those, the run id and
    the previous run)."""
    return {
        "run_started_at": render.iso(run_started_at),
        "parameters": document["parameters"],
        "verdict": document["verdict"],
        "counts": document["counts"],
        "breaks": document["breaks"],
        "lifecycle": lifecycle,
        "continuity": continuity.as_dict(),
        "totals_by_currency": document["totals_by_currency"],
        "watermarks": document["watermarks"],
        # The correctness prober's verdict, only when it ran (synthetic items are in no figure above).
        **({"probe": probe} if probe is not None else {}),
    }


def _totals_markdown(totals: list[dict[str, Any]]) -> str:
    """The per-currency totals as a Markdown table for the Dagster UI (one row per currency)."""
    lines = [
        "| currency | orders | expected | net | breaks | break amount |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t['currency']} | {t['order_count']} | {t['total_expected']} | {t['total_net']} "
        f"| {t['break_count']} | {t['break_amount']} |"
        for t in totals
    ]
    return "\n".join(lines) if totals else "no items in this run"


def _link_metadata(store, publication, expiry_seconds: int) -> dict[str, Any]:
    """Links that open beside the store URIs: presigned HTTPS on S3 (expiring), file:// for a folder."""
    from finance_recon.report.reader import link_expires_at

    # By the manifest's keys: the breaks may be an earlier run's objects (reuse.py).
    run = PublishedRun(publication.manifest_key, publication.manifest)
    summary_key, breaks_key = run.file_key("summary.html"), run.file_key("breaks.csv")
    try:
        metadata: dict[str, Any] = {
            "report_link": MetadataValue.url(store.link_for(summary_key, expiry_seconds)),
            "breaks_csv_link": MetadataValue.url(store.link_for(breaks_key, expiry_seconds)),
        }
    except StoreError as exc:  # the report is published; a link that cannot be made is not a failure
        return {"report_link_error": str(exc)}
    if hasattr(store, "s3_uri"):
        metadata["report_uri"] = store.s3_uri(summary_key)
        metadata["links_expire_at"] = link_expires_at(store, expiry_seconds) or ""
    return metadata
