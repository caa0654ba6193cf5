"""Extract one contract table from its source into the warehouse: the unit the assets call.

    watermark  = newest updated_at landed from this source (landing._watermarks)
    read       = rows with updated_at > watermark − look_back   (all rows on a full refresh)
    land       = upsert by primary key, move the watermark — one transaction

The look-back window catches transactions that commit with an `updated_at` older than rows already
extracted. A commit older than the window is the documented limit of incremental extraction: it is
missed until the row changes again or a full refresh runs (`ExtractConfig(full_refresh=True)`).
Reruns are idempotent: re-reading the window re-upserts the same versions.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..contracts import SourceTable
from .landing import batch_table, ensure_landing, land, read_watermark, warehouse_connection
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
) -> ExtractResult:
    """Read changed rows of `table` from `source_url` and land them in `warehouse`
    (a `WarehouseResource`). Raises `SourceError` subclasses with one-line, password-free messages."""
    import pyarrow as pa

    logger = logger or log
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    source = SourceUrl.parse(source_url)

    with warehouse_connection(warehouse) as conn:
        ensure_landing(conn, table)
        previous = read_watermark(conn, table)

    if full_refresh:
        mode, reason = "full_refresh", "requested"
    elif previous is None or previous.max_updated_at is None:
        mode, reason = "full_refresh", "no watermark yet"
    elif previous.source != source.redacted:
        mode, reason = "full_refresh", f"source changed from {previous.source}"
    else:
        mode, reason = "incremental", f"look-back {look_back_minutes} min"
    watermark_before = previous.max_updated_at if previous else None
    read_since = None
    if mode == "incremental":
        read_since = watermark_before - timedelta(minutes=look_back_minutes)
    logger.info(
        f"extracting {table.table} from {source.redacted}: {mode} ({reason})"
        + (f", updated_at > {iso(read_since)}" if read_since else "")
    )

    with tempfile.TemporaryDirectory(prefix=f"finance_recon_{table.asset_name}_") as tmp:
        spill_path = Path(tmp) / "batch.arrows"  # Arrow IPC stream: the cheapest format to write and scan
        sink = writer = None
        rows = 0
        try:
            with open_reader(source) as reader:
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
        with warehouse_connection(warehouse) as conn:
            landed = land(
                conn,
                table,
                spill_path if writer is not None else None,
                full_refresh=mode == "full_refresh",
                source=source.redacted,
                run_id=run_id,
                read_since=read_since,
                watermark_before=watermark_before,
                started_at=started_at,
            )
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
        f"landed {result.rows_extracted} {table.table} rows ({result.rows_total} in landing), "
        f"watermark {iso(watermark_before)} -> {iso(result.watermark_after)} in {result.duration_s:.2f}s"
    )
    return result
