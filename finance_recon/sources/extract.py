"""Extract one contract table from its source into the warehouse: the unit the assets call.

    watermark  = newest updated_at landed from this source (landing._watermarks)
    read       = rows with updated_at > watermark − look_back   (all rows on a full refresh; policy.py)
    stage      = the batch into landing.<table>__last_batch, marked pending — one transaction

The batch is promoted (upsert by primary key, watermark moved) only after its contract check passed,
by the reconciliation step (landing.promote): a batch that fails its check is quarantined.

The look-back window catches transactions that commit with an `updated_at` older than rows already
extracted. A commit older than the window is the documented limit of incremental extraction: it is
missed until the row changes again or a full refresh runs (`ExtractConfig(full_refresh=True)`).
Reruns are idempotent: re-reading the window re-upserts the same versions.
"""

from __future__ import annotations

import logging
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..contracts import SourceTable
from .landing import (
    batch_table,
    ensure_landing,
    mark_checked,
    promote,
    read_watermark,
    stage,
    warehouse_connection,
)
from .policy import plan_read
from .readers import open_reader
from .urls import SourceUrl

log = logging.getLogger(__name__)


def iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat() if ts is not None else None


@dataclass(frozen=True)
class ExtractResult:
    table: str
    source: str  # redacted URL
    mode: str  # "incremental" | "full_refresh"
    reason: str
    rows_extracted: int
    rows_total: int
    read_since: datetime | None
    watermark_before: datetime | None
    watermark_after: datetime | None
    duration_s: float
    read_s: float
    batch_table: str

    @property
    def max_updated_at(self) -> datetime | None:
        return self.watermark_after

    def metadata(self) -> dict[str, Any]:
        """Asset materialization metadata (timestamps as ISO-8601 UTC strings, '' when unknown)."""
        return {
            "rows_extracted": self.rows_extracted,
            "rows_total": self.rows_total,
            "max_updated_at": iso(self.max_updated_at) or "",
            "watermark_before": iso(self.watermark_before) or "",
            "watermark_after": iso(self.watermark_after) or "",
            "read_since": iso(self.read_since) or "",
            "mode": self.mode,
            "mode_reason": self.reason,
            "source": self.source,
            "batch_table": self.batch_table,
            # Landing and watermark move when the contract check passed (quarantine, landing.promote).
            "promoted": "after the contract check passes",
            "duration_s": round(self.duration_s, 3),
            "rows_per_s": round(self.rows_extracted / self.duration_s) if self.duration_s > 0 else 0,
        }


def extract_table(
    table: SourceTable,
    source_url: str,
    warehouse,
    *,
    look_back_minutes: int = 10,
    batch_rows: int = 100_000,
    full_refresh: bool = False,
    run_id: str | None = None,
    logger: logging.Logger | Any = None,
    promote_now: bool = False,
    mysql_reader: str = "client",
    writes: AbstractContextManager | None = None,
) -> ExtractResult:
    """Read changed rows of `table` from `source_url` and stage them in `warehouse` (a
    `WarehouseResource`) for the contract check; `promote_now` lands them at once, without a check in
    between (tests and benchmarks of the extraction itself); `mysql_reader`: how a MySQL/MariaDB source
    streams (the source resource's); `writes`: held around each use of the warehouse (a lock shared by
    the tables a step reads concurrently, sources/concurrent.py: the warehouse has one writer, while
    the reads from the sources overlap). Raises `SourceError` subclasses with one-line, password-free
    messages."""
    import pyarrow as pa

    logger = logger or log
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    source = SourceUrl.parse(source_url)

    writes = writes if writes is not None else nullcontext()
    with writes, warehouse_connection(warehouse) as conn:
        ensure_landing(conn, table)
        previous = read_watermark(conn, table)

    plan = plan_read(
        previous_source=previous.source if previous else None,
        previous_watermark=previous.max_updated_at if previous else None,
        source=source.redacted,
        full_refresh=full_refresh,
        look_back_minutes=look_back_minutes,
    )
    mode, reason = plan.mode, plan.reason
    watermark_before, read_since = plan.watermark_before, plan.read_since
    logger.info(
        f"extracting {table.table} from {source.redacted}: {mode} ({reason})"
        + (f", updated_at > {iso(read_since)}" if read_since else "")
    )

    with tempfile.TemporaryDirectory(prefix=f"finance_recon_{table.asset_name}_") as tmp:
        spill_path = Path(tmp) / "batch.arrows"  # Arrow IPC stream: the cheapest format to write and scan
        sink = writer = None
        rows = 0
        try:
            with open_reader(source, mysql_reader=mysql_reader) as reader:
                checked = reader.check_contract(table)
                for batch in reader.read(table, read_since, batch_rows, checked):
                    if writer is None:
                        sink = pa.OSFile(str(spill_path), "wb")
                        writer = pa.ipc.new_stream(sink, table.arrow_schema)
                    writer.write_batch(batch)
                    rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
                sink.close()
        read_s = time.perf_counter() - started
        with writes, warehouse_connection(warehouse) as conn:
            landed = stage(
                conn,
                table,
                spill_path if writer is not None else None,
                plan,
                source=source.redacted,
                run_id=run_id,
                started_at=started_at,
            )
            if promote_now:
                mark_checked(conn, table)
                landed = promote(conn, (table,)).get(table.asset_name, landed)
    result = ExtractResult(
        table=table.asset_name,
        source=source.redacted,
        mode=mode,
        reason=reason,
        rows_extracted=landed.rows_extracted,
        rows_total=landed.rows_total,
        read_since=read_since,
        watermark_before=watermark_before,
        watermark_after=landed.watermark_after,
        duration_s=time.perf_counter() - started,
        read_s=read_s,
        batch_table=batch_table(table),
    )
    logger.info(
        f"staged {result.rows_extracted} {table.table} rows for the contract check "
        f"({result.rows_total} in landing once promoted), "
        f"watermark {iso(watermark_before)} -> {iso(result.watermark_after)} in {result.duration_s:.2f}s"
    )
    return result
