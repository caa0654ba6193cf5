"""Read the newest published report from the report store (`latest.json` -> its manifest).

This is the one reader of the report-store contract (contracts §3) outside Dagster runs: the
Prometheus exporter uses it at every scrape and the runbook commands (`diagnose`, `drill`) reuse
`read_latest`. It never opens the warehouse file (DuckDB allows one writer process).

Errors are split so a caller can tell causes apart:
- `StoreError` (from `finance_recon.report.store`): the store could not be read (endpoint down,
  credentials rejected, bucket missing, permission denied);
- `InvalidReportError`: the store answered but `latest.json` or the manifest breaks the contract;
- `None` from `read_latest`: the store is reachable and no report was ever published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from finance_recon.report.store import LocalReportStore, ReportStore, S3ReportStore, StoreError

LATEST_KEY = "latest.json"
MANIFEST_NAME = "manifest.json"
SOURCES = ("orders", "payments")

# Short timeouts: a scrape must answer inside Prometheus' scrape_timeout even when the store hangs.
S3_CONNECT_TIMEOUT_SECONDS = 2
S3_READ_TIMEOUT_SECONDS = 5


class InvalidReportError(ValueError):
    """`latest.json` or the manifest it names does not follow the report-store contract."""


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
    totals: dict[str, Decimal]
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


def open_report_store(settings: Any, s3_client: Any = None) -> ReportStore:
    """The report store named by `settings.reports_uri` (a local folder or `s3://bucket/prefix`).

    Outside Dagster runs a plain boto3 client is built from the standard AWS environment
    variables and `settings.s3_endpoint_url` (path-style addressing for MinIO / moto).
    """
    if settings.reports_are_s3:
        client = s3_client if s3_client is not None else make_s3_client(settings.s3_endpoint_url)
        return S3ReportStore(settings.reports_uri, client, endpoint_url=settings.s3_endpoint_url)
    return LocalReportStore(settings.reports_uri)


def make_s3_client(endpoint_url: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=S3_CONNECT_TIMEOUT_SECONDS,
        read_timeout=S3_READ_TIMEOUT_SECONDS,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


def read_latest(settings: Any = None, store: ReportStore | None = None) -> LatestReport | None:
    """The newest report, or None when none was ever published.

    Raises `StoreError` when the store cannot be read and `InvalidReportError` when what it holds
    breaks the contract. Pass `store` to reuse an open store (the exporter does).
    """
    if store is None:
        if settings is None:
            from finance_recon.settings import load_settings

            settings = load_settings()
        store = open_report_store(settings)
    return LatestReader(store).read()


class LatestReader:
    """Reads `latest.json` at each call; manifests are immutable once written, so they are cached."""

    def __init__(self, store: ReportStore):
        self.store = store
        self._manifest_cache: dict[str, LatestReport] = {}

    def read(self) -> LatestReport | None:
        raw = self.store.get(LATEST_KEY)
        if raw is None:
            # The publisher writes the manifest before latest.json: a crash in between, or a store
            # seeded by hand, still has runs. Fall back to listing (only in this rare case).
            manifest_key = self._newest_manifest_key()
            if manifest_key is None:
                return None
        else:
            pointer = _load_json(raw, LATEST_KEY)
            manifest_key = pointer.get("manifest_key")
            if not isinstance(manifest_key, str) or not manifest_key.endswith(MANIFEST_NAME):
                raise InvalidReportError(
                    f"{LATEST_KEY}: 'manifest_key' missing or not a manifest: {manifest_key!r}"
                )
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


def _load_json(raw: bytes, key: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidReportError(f"{key}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise InvalidReportError(f"{key}: expected a JSON object, got {type(value).__name__}")
    return value


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
    totals: dict[str, Decimal] = {}
    for name, value in (manifest.get("totals") or {}).items():
        try:
            totals[str(name)] = Decimal(str(value))
        except InvalidOperation as exc:
            raise InvalidReportError(f"{where}: totals.{name} is not a decimal: {value!r}") from exc
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
        totals=totals,
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
