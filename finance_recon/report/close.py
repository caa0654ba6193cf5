"""The daily close: the report of one business day, cut off at the end of that day in a time zone.

A close of day D is a whole reconciliation run with `as_of` = the cut-off (midnight at the end of D in
FINANCE_RECON_CLOSE_TIMEZONE, as UTC), then a copy of what it published under `close/dt=D/` with its
own manifest, and `close/latest.json` naming the newest closed day (a backfill of older days never
moves it back).

The close never touches the rolling report or its warehouse: it runs on its own warehouse file
(`$FINANCE_RECON_HOME/close/warehouse.duckdb`) and publishes first to a staging folder
(`$FINANCE_RECON_HOME/close/staging`), so the rolling run's incremental state is not rebuilt because
a close moved as_of back, and the rolling `latest.json` never names a close. Closes run in day order
keep the close warehouse incremental too; closing an older day again rebuilds the close's state only.

In Dagster the close is the daily-partitioned (external) asset `finance_reconciliation_close` and
its job (`close_asset.py`): a run of the job for partition D (from the UI, a backfill, or
`finance-recon close`) runs `close_day` in a subprocess through Dagster Pipes and reports the
materialization of partition D. The close's own reconciliation run is
recorded in its own Dagster instance (`$FINANCE_RECON_HOME/close/dagster`) under its own run lock,
so it never adds a materialization to the rolling report (whose freshness SLA, Finance notice and
error budget read them) and never holds the rolling run lock.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from finance_recon.report.history import REUSED_FROM
from finance_recon.report.store import LocalReportStore, ReportStore

CLOSE_PREFIX = "close/"
CLOSE_LATEST_KEY = "close/latest.json"


def cutoff(day: date, zone: str) -> datetime:
    """The end of `day` in `zone` (the next local midnight), as UTC."""
    local_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))
    return local_midnight.astimezone(UTC)


def close_settings(settings):
    """The settings a close runs with: its own home (so its own Dagster instance, run lock and logs),
    warehouse file and local staging store; the sources and everything else as configured. The
    correctness prober stays off: a close reads the sources, it never writes synthetic rows."""
    folder = settings.home / "close"
    return settings.model_copy(
        update={
            "home": folder,
            "warehouse_path": folder / "warehouse.duckdb",
            "reports_uri": str(folder / "staging"),
            "probe_enabled": False,
            # The close copies its staged run's files under close/dt=D/ and its summary.html links
            # them as siblings: a staged run referencing an earlier staged run's breaks would leave
            # the copied page linking into the staging store.
            "reuse_unchanged_breaks": False,
        }
    )


def close_partitions(settings):
    """One partition per business day in the close time zone, from `close_start_date` to the last
    day that has ended (end_offset 0: today is not closable until its midnight has passed)."""
    from dagster import DailyPartitionsDefinition

    return DailyPartitionsDefinition(
        start_date=settings.close_start_date.isoformat(), timezone=settings.close_timezone, end_offset=0
    )


@contextmanager
def one_close_at_a_time(settings, on_wait=None) -> Iterator[None]:
    """Wait for any other close to finish (a kernel lock, released if its holder dies). A backfill
    from the UI launches one run per day, several at once; they queue here instead of failing on the
    close's run lock. `on_wait(message)` is told once when this close has to wait."""
    path = close_settings(settings).home / "locks" / "close-queue.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(f"another close is running; waiting for it ({path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def close_day(settings, store: ReportStore, day: date, runner) -> dict[str, Any]:
    """Close one day into `store`: reconcile on the close's own settings with as_of = the day's
    cut-off (through `runner(as_of, close_settings)`, the CLI's job runner), then publish the staged run under
    `close/dt=D/`. Returns what happened: `outcome` `published` (with the manifest's figures) or
    `failed` (with the run's one-line `cause`)."""
    from finance_recon.reconciliation.parameters import format_ts
    from finance_recon.report.history import latest_run

    staged_settings = close_settings(settings)
    as_of = format_ts(cutoff(day, settings.close_timezone))
    outcome = runner(as_of, staged_settings)
    if not outcome.success:
        return {"date": day.isoformat(), "as_of": as_of, "outcome": "failed", "cause": outcome.cause}
    staging = LocalReportStore(staged_settings.reports_uri)
    staged = latest_run(staging)
    manifest = publish_close(store, staging, staged.manifest_key, day, settings.close_timezone)
    return {
        "date": day.isoformat(),
        "as_of": manifest["as_of"],
        "outcome": "published",
        "run_id": manifest["run_id"],
        "manifest_key": f"{CLOSE_PREFIX}dt={day.isoformat()}/manifest.json",
        "verdict": manifest.get("verdict"),
        "counts": manifest.get("counts", {}),
        "breaks": manifest.get("breaks"),
        "totals_by_currency": manifest.get("totals_by_currency", []),
        # A file:// URL on a folder, a presigned link on S3: what `finance-recon close` prints.
        "report_url": store.link_for(
            f"{CLOSE_PREFIX}dt={day.isoformat()}/summary.html", settings.report_link_expiry_seconds
        ),
    }


def _dump(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def publish_close(
    store: ReportStore, staging: LocalReportStore, manifest_key: str, day: date, zone: str
) -> dict[str, Any]:
    """Copy the staged run under `close/dt=D/` (artifacts, then manifest, then close/latest.json)."""
    manifest = json.loads(staging.get(manifest_key))
    prefix = f"{CLOSE_PREFIX}dt={day.isoformat()}/"
    files = []
    for entry in manifest["files"]:
        data = staging.get(entry["key"])
        key = prefix + entry["name"]
        store.put(key, data, _content_type(entry["name"]))
        # A fresh copy under the close's prefix (read by its key, wherever the staged run stored it).
        files.append({**{k: v for k, v in entry.items() if k != REUSED_FROM}, "key": key})
    close_manifest = {
        **manifest,
        "files": files,
        "close": {"date": day.isoformat(), "timezone": zone, "cutoff": manifest["as_of"]},
        # Closes are linked by day, not by the rolling chain.
        "previous_run_id": None,
        "previous_manifest_key": None,
    }
    store.put(prefix + "manifest.json", _dump(close_manifest), "application/json")
    current = store.get(CLOSE_LATEST_KEY)
    if current is None or json.loads(current).get("date", "") <= day.isoformat():
        store.put(
            CLOSE_LATEST_KEY,
            _dump(
                {
                    "date": day.isoformat(),
                    "manifest_key": prefix + "manifest.json",
                    "run_id": manifest["run_id"],
                    "as_of": manifest["as_of"],
                    "verdict": manifest.get("verdict"),
                }
            ),
            "application/json",
        )
    return close_manifest


def _content_type(name: str) -> str:
    return {
        ".csv": "text/csv",
        ".parquet": "application/vnd.apache.parquet",
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
    }.get(name[name.rfind(".") :], "application/octet-stream")
