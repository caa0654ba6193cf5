"""The newest published report, parsed for the exporter (`latest.json` -> its manifest).

`report/` owns the store opener (`report/opener.py`) and the reading of `latest.json` and the
manifest's bytes (`report/history.py`); this module parses the manifest's fields. The Prometheus
exporter uses it at every scrape and the runbook commands (`diagnose`, `drill`) reuse
`read_latest`. It never opens the warehouse file (DuckDB allows one writer process).

Errors are split so a caller can tell causes apart:
- `StoreError` (from `finance_recon.report.store`): the store could not be read (endpoint down,
  credentials rejected, bucket missing, permission denied);
- `InvalidReportError`: the store answered but `latest.json` or the manifest breaks the contract;
- `None` from `read_latest`: the store is reachable and no report was ever published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from finance_recon.contracts import SOURCE_TABLES
from finance_recon.report.history import (
    LATEST_KEY,
    MANIFEST_NAME,
    InvalidReportError,
    check_schema_version,
    latest_manifest_key,
)
from finance_recon.report.history import load_json as _load_json
from finance_recon.report.opener import make_s3_client, open_report_store
from finance_recon.report.store import ReportStore, StoreError

SOURCES = tuple(table.asset_name for table in SOURCE_TABLES)


@dataclass(frozen=True)
class LatestReport:
    """The newest published run, as its manifest describes it."""

    run_id: str
    manifest_key: str
    as_of: datetime
    run_started_at: datetime | None
    run_ended_at: datetime
    verdict: str
    counts: dict[str, int]
    totals_by_currency: dict[str, dict[str, Decimal]]  # currency → total_expected, total_net, break_amount
    watermarks: dict[str, datetime | None]
    previous_run_id: str | None
    files: list[dict[str, Any]]
    manifest_url: str
    manifest: dict[str, Any] = field(repr=False, compare=False)

    @property
    def run_ended_timestamp(self) -> float:
        return self.run_ended_at.timestamp()

    def age_seconds(self, now: datetime | float | None = None) -> float:
        """Seconds since the run ended, at `now` (default: the wall clock). Never negative."""
        if now is None:
            now_ts = datetime.now(UTC).timestamp()
        elif isinstance(now, datetime):
            now_ts = now.timestamp()
        else:
            now_ts = float(now)  # float ok: unix time
        # A publisher clock slightly ahead of ours must not show as a negative age.
        return max(0.0, now_ts - self.run_ended_timestamp)

    def source_lag_seconds(self, source: str) -> float | None:
        """How far the source's newest `updated_at` was behind the run's `as_of` (replication lag)."""
        watermark = self.watermarks.get(source)
        if watermark is None:
            return None
        return self.as_of.timestamp() - watermark.timestamp()


def read_latest(settings: Any, store: ReportStore | None = None) -> LatestReport | None:
    """The newest report of the deployment `settings` describes, or None when none was ever published.

    Raises `StoreError` when the store cannot be read and `InvalidReportError` when what it holds
    breaks the contract. Pass `store` to reuse an open store (the exporter does).
    """
    if store is None:
        store = open_report_store(settings)
    return LatestReader(store).read()


class LatestReader:
    """Reads `latest.json` at each call; manifests are immutable once written, so they are cached."""

    def __init__(self, store: ReportStore):
        self.store = store
        self._manifest_cache: dict[str, LatestReport] = {}

    def read(self) -> LatestReport | None:
        manifest_key = latest_manifest_key(self.store)
        if manifest_key is None:
            # The publisher writes the manifest before latest.json: a crash in between, or a store
            # seeded by hand, still has runs. Fall back to listing (only in this rare case).
            manifest_key = self._newest_manifest_key()
            if manifest_key is None:
                return None
        cached = self._manifest_cache.get(manifest_key)
        if cached is not None:
            return cached
        manifest_raw = self.store.get(manifest_key)
        if manifest_raw is None:
            raise InvalidReportError(
                f"{LATEST_KEY} names {manifest_key}, which does not exist in {self.store.uri}"
            )
        report = parse_manifest(
            _load_json(manifest_raw, manifest_key), manifest_key, self.store.url_for(manifest_key)
        )
        self._manifest_cache = {manifest_key: report}  # only the newest is ever needed again
        return report

    def _newest_manifest_key(self) -> str | None:
        keys = [k for k in self.store.list_keys("dt=") if k.endswith("/" + MANIFEST_NAME)]
        if not keys:
            return None
        newest_dt = max(k.split("/", 1)[0] for k in keys)
        candidates = []
        for key in (k for k in keys if k.startswith(newest_dt + "/")):
            raw = self.store.get(key)
            if raw is None:
                continue
            report = parse_manifest(_load_json(raw, key), key, self.store.url_for(key))
            candidates.append((report.run_ended_at, key))
        return max(candidates)[1] if candidates else None


def parse_timestamp(value: Any, where: str) -> datetime:
    """ISO-8601 with an offset, as UTC. A value without an offset is read as UTC (contracts §3 says UTC)."""
    if not isinstance(value, str):
        raise InvalidReportError(f"{where}: expected an ISO-8601 timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidReportError(f"{where}: not an ISO-8601 timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_manifest(manifest: dict[str, Any], manifest_key: str, manifest_url: str = "") -> LatestReport:
    where = manifest_key
    check_schema_version(manifest, where)
    for required in ("run_id", "as_of", "run_ended_at", "verdict", "counts"):
        if required not in manifest:
            raise InvalidReportError(f"{where}: missing '{required}'")
    counts_raw = manifest["counts"]
    if not isinstance(counts_raw, dict):
        raise InvalidReportError(f"{where}: 'counts' must be an object")
    counts: dict[str, int] = {}
    for category, value in counts_raw.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidReportError(f"{where}: counts.{category} must be an integer, got {value!r}")
        counts[str(category)] = value
    totals: dict[str, dict[str, Decimal]] = {}
    for entry in manifest.get("totals_by_currency") or []:
        currency = str(entry.get("currency"))
        amounts: dict[str, Decimal] = {}
        for name in ("total_expected", "total_net", "break_amount"):
            value = entry.get(name)
            try:
                amounts[name] = Decimal(str(value))
            except InvalidOperation as exc:
                raise InvalidReportError(
                    f"{where}: totals_by_currency[{currency}].{name} is not a decimal: {value!r}"
                ) from exc
        totals[currency] = amounts
    watermarks_raw = manifest.get("watermarks") or {}
    watermarks: dict[str, datetime | None] = {}
    for source in SOURCES:
        value = watermarks_raw.get(f"{source}_max_updated_at")
        watermarks[source] = (
            None if value is None else parse_timestamp(value, f"{where}: watermarks.{source}")
        )
    started = manifest.get("run_started_at")
    return LatestReport(
        run_id=str(manifest["run_id"]),
        manifest_key=manifest_key,
        as_of=parse_timestamp(manifest["as_of"], f"{where}: as_of"),
        run_started_at=None if started is None else parse_timestamp(started, f"{where}: run_started_at"),
        run_ended_at=parse_timestamp(manifest["run_ended_at"], f"{where}: run_ended_at"),
        verdict=str(manifest["verdict"]),
        counts=counts,
        totals_by_currency=totals,
        watermarks=watermarks,
        previous_run_id=manifest.get("previous_run_id"),
        files=list(manifest.get("files") or []),
        manifest_url=manifest_url,
        manifest=manifest,
    )


__all__ = [
    "InvalidReportError",
    "LatestReader",
    "LatestReport",
    "StoreError",
    "make_s3_client",
    "open_report_store",
    "parse_manifest",
    "read_latest",
]
