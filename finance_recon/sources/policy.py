"""The one watermark / look-back policy of incremental extraction, whatever engine lands the rows.

    watermark  = newest updated_at landed from this source
    read       = rows with updated_at > watermark − look_back   (all rows on a full refresh)

A full refresh is read when asked for, when nothing was landed yet, or when the source URL changed
(another database's watermark means nothing here). After landing, the watermark never moves back on
an incremental read (a batch whose newest row is older than the watermark must not re-open rows
already read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ReadPlan:
    mode: str  # "incremental" | "full_refresh"
    reason: str
    watermark_before: datetime | None
    read_since: datetime | None  # None: read everything

    @property
    def full_refresh(self) -> bool:
        return self.mode == "full_refresh"


def plan_read(
    *,
    previous_source: str | None,
    previous_watermark: datetime | None,
    source: str,
    full_refresh: bool,
    look_back_minutes: int,
) -> ReadPlan:
    """What to read this run. `previous_*` describe what was landed (None when nothing was); `source`
    is the redacted URL being read now."""
    if full_refresh:
        mode, reason = "full_refresh", "requested"
    elif previous_watermark is None:
        mode, reason = "full_refresh", "no watermark yet"
    elif previous_source != source:
        mode, reason = "full_refresh", f"source changed from {previous_source}"
    else:
        mode, reason = "incremental", f"look-back {look_back_minutes} min"
    read_since = None
    if mode == "incremental":
        read_since = previous_watermark - timedelta(minutes=look_back_minutes)
    return ReadPlan(mode, reason, previous_watermark, read_since)


def watermark_after(
    plan_full_refresh: bool, before: datetime | None, landed_max: datetime | None
) -> datetime | None:
    """The watermark once a batch is landed: the newest landed `updated_at`, never moving back on an
    incremental read."""
    if not plan_full_refresh and before is not None and (landed_max is None or landed_max < before):
        return before
    return landed_max
