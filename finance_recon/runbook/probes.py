"""Read-only probes of the sources and the report store, for `diagnose` and `drill`.

Sources are opened through `finance_recon.sources` (the same URL parsing, readers and redaction as
extraction): the contract check reads `information_schema`, then one `SELECT max(updated_at)`.
Nothing is written; PostgreSQL sessions are read-only, DuckDB files are opened read-only, MySQL runs
only the SELECTs. Messages carry the redacted URL, never a password.

The report store gets a read (the newest manifest through `finance_recon.metrics.read_latest`, which
lists when `latest.json` is missing) and, unless disabled, one **write probe**: the fixed key
`_probe/diagnose.txt` (a few bytes, outside `dt=…/` and never `latest.json`, so no reader of reports
ever sees it), deleted again at once, so the store is left as it was found (a delete that fails is
a note of the probe, not a failed write). Reading alone cannot tell a read-only credential, an expired
write permission or a full disk from a healthy store — and those are exactly how publishing fails.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finance_recon.contracts import SOURCE_TABLES, SourceTable
from finance_recon.report.store import LocalReportStore, ReportStore, StoreError

PROBE_KEY = "_probe/diagnose.txt"

# Error vocabularies. S3 codes per AWS and MinIO (XMinioStorageFull is MinIO's "disk full").
S3_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AuthorizationHeaderMalformed",
    "InvalidSecurity",
    "AccessDenied",
    "AllAccessDisabled",
    "AccountProblem",
    "403",
}
S3_FULL_CODES = {
    "XMinioStorageFull",
    "QuotaExceeded",
    "XMinioAdminBucketQuotaExceeded",
    "InsufficientStorage",
    "507",
}
S3_UNREACHABLE_CODES = {
    "NoSuchBucket",
    "ServiceUnavailable",
    "SlowDown",
    "InternalError",
    "503",
    "500",
    "502",
    "504",
}
SOURCE_CREDENTIAL_MARKERS = (
    "access denied for user",  # MySQL / MariaDB 1045
    "password authentication failed",  # PostgreSQL
    "no password supplied",
    "authentication failed",
    'role "',  # role "x" does not exist
)

STORE_UNREACHABLE = "unreachable"
STORE_CREDENTIALS = "credentials"
STORE_FULL = "full"
STORE_OTHER = "error"


# ------------------------------------------------------------------------------------------ sources


@dataclass
class SourceProbe:
    name: str  # orders | payments
    url: str  # redacted
    dialect: str
    reachable: bool = False
    contract_ok: bool | None = None
    max_updated_at: datetime | None = None
    lag_minutes: float | None = None
    error: str | None = None
    error_kind: str | None = None  # unavailable | credentials | contract
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["max_updated_at"] = _iso(self.max_updated_at)
        return d


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat() if ts is not None else None


def probe_source(
    name: str, raw_url: str, table: SourceTable, now: datetime, timeout_s: float = 5.0
) -> SourceProbe:
    from finance_recon.sources.errors import (
        ContractViolationError,
        SourceError,
        SourceRejectedError,
        SourceUnavailableError,
        one_line,
    )
    from finance_recon.sources.readers import open_reader
    from finance_recon.sources.urls import SourceUrl, redact

    started = time.perf_counter()
    try:
        source = SourceUrl.parse(raw_url)
    except SourceError as exc:
        return SourceProbe(name, redact(raw_url), "?", error=str(exc), error_kind="contract")
    probe = SourceProbe(name, source.redacted, source.dialect)
    try:
        with open_reader(source, connect_timeout_s=timeout_s) as reader:
            probe.reachable = True
            try:
                reader.check_contract(table)
                probe.contract_ok = True
            except ContractViolationError as exc:
                probe.contract_ok = False
                probe.error, probe.error_kind = str(exc), "contract"
            try:  # even a drifted table may still answer max(updated_at)
                probe.max_updated_at = reader.max_updated_at(table)
            except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
                if probe.error is None:
                    probe.error, probe.error_kind = (
                        f"source {source.redacted}: {one_line(exc)}",
                        "unavailable",
                    )
    except SourceRejectedError as exc:  # up, but refused these credentials or this database
        probe.error, probe.error_kind = str(exc), "credentials"
    except SourceUnavailableError as exc:
        probe.error = str(exc)
        lowered = probe.error.lower()
        probe.error_kind = (
            "credentials" if any(m in lowered for m in SOURCE_CREDENTIAL_MARKERS) else "unavailable"
        )
    except SourceError as exc:
        probe.error, probe.error_kind = str(exc), "contract"
    if probe.max_updated_at is not None:
        probe.lag_minutes = round((now - probe.max_updated_at).total_seconds() / 60, 2)
    probe.elapsed_s = round(time.perf_counter() - started, 3)
    return probe


def probe_sources(settings, now: datetime) -> list[SourceProbe]:
    return [probe_source(table.asset_name, settings.source_url(table), table, now) for table in SOURCE_TABLES]


# -------------------------------------------------------------------------------------------- store


@dataclass
class StoreProbe:
    uri: str
    kind: str  # s3 | local
    endpoint: str | None = None
    read_ok: bool | None = None
    write_ok: bool | None = None  # None: write probe skipped
    error: str | None = None
    error_kind: str | None = None  # unreachable | credentials | full | error
    free_bytes: int | None = None  # local stores: free space on the filesystem
    report: dict[str, Any] | None = None  # the newest manifest, summarised
    no_report: bool = False  # reachable, and nothing was ever published
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify_store_error(exc: BaseException) -> str:
    """unreachable | credentials | full | error, from a StoreError (its cause) or a raw exception."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in chain:
        kind = _classify_one(e)
        if kind:
            return kind
    text = " ".join(str(e) for e in chain).lower()
    if "no space left" in text or "quota" in text:
        return STORE_FULL
    if "access denied" in text or "permission denied" in text or "invalidaccesskeyid" in text:
        return STORE_CREDENTIALS
    if "could not connect" in text or "connection refused" in text or "timed out" in text:
        return STORE_UNREACHABLE
    return STORE_OTHER


def _classify_one(e: BaseException) -> str | None:
    try:
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ReadTimeoutError,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )
    except ImportError:  # pragma: no cover - boto3 is a dependency
        ClientError = None  # type: ignore[assignment]
    if ClientError is not None:
        if isinstance(e, (NoCredentialsError, PartialCredentialsError)):
            return STORE_CREDENTIALS
        if isinstance(
            e, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, BotoConnectionError)
        ):
            return STORE_UNREACHABLE
        if isinstance(e, ClientError):
            code = str(e.response.get("Error", {}).get("Code", ""))
            status = str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in S3_CREDENTIAL_CODES or status == "403":
                return STORE_CREDENTIALS
            if code in S3_FULL_CODES or status == "507":
                return STORE_FULL
            if code in S3_UNREACHABLE_CODES or status in S3_UNREACHABLE_CODES:
                return STORE_UNREACHABLE
            return STORE_OTHER
    if isinstance(e, OSError) and e.errno is not None:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return STORE_FULL
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return STORE_CREDENTIALS
        if e.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT):
            return STORE_UNREACHABLE
    if isinstance(e, (socket.timeout, ConnectionError)):
        return STORE_UNREACHABLE
    return None


def summarise_report(report, now: datetime) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "manifest_key": report.manifest_key,
        "manifest_url": report.manifest_url,
        "as_of": _iso(report.as_of),
        "run_ended_at": _iso(report.run_ended_at),
        "age_minutes": round(report.age_seconds(now) / 60, 2),
        "verdict": report.verdict,
        "watermarks": {k: _iso(v) for k, v in report.watermarks.items()},
    }


def probe_store(
    settings, now: datetime, *, write_probe: bool = True, store: ReportStore | None = None
) -> StoreProbe:
    from finance_recon.metrics.latest import InvalidReportError, open_report_store, read_latest

    started = time.perf_counter()
    probe = StoreProbe(
        uri=settings.reports_uri,
        kind="s3" if settings.reports_are_s3 else "local",
        endpoint=settings.s3_endpoint_url if settings.reports_are_s3 else None,
    )
    try:
        store = store or open_report_store(settings)
    except Exception as exc:  # noqa: BLE001 - e.g. no region / bad endpoint URL
        probe.read_ok, probe.error, probe.error_kind = (
            False,
            f"cannot open the store: {exc}",
            classify_store_error(exc),
        )
        return probe
    if isinstance(store, LocalReportStore):
        probe.free_bytes = _free_bytes(store.root)
    try:
        report = read_latest(settings, store=store)
        probe.read_ok = True
        if report is None:
            probe.no_report = True
        else:
            probe.report = summarise_report(report, now)
    except StoreError as exc:
        probe.read_ok, probe.error, probe.error_kind = False, str(exc), classify_store_error(exc)
    except InvalidReportError as exc:
        probe.read_ok = True
        probe.notes.append(f"invalid report: {exc}")
    if write_probe and probe.read_ok is not False:
        body = f"finance-recon diagnose probe {now.isoformat()} from {socket.gethostname()}\n".encode()
        try:
            store.put(PROBE_KEY, body, "text/plain")
            probe.write_ok = True
        except StoreError as exc:
            probe.write_ok = False
            probe.error, probe.error_kind = str(exc), classify_store_error(exc)
        else:
            try:
                store.delete(PROBE_KEY)
            except StoreError as exc:
                probe.notes.append(f"the write probe {PROBE_KEY} could not be removed: {exc}")
    probe.elapsed_s = round(time.perf_counter() - started, 3)
    return probe


def _free_bytes(root: Path) -> int | None:
    path = Path(root)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def hostname() -> str:
    return os.environ.get("HOSTNAME") or socket.gethostname()
