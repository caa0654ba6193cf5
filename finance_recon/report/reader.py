"""Reading published reports back from the report store (folder or S3), never from the warehouse.

`finance-recon report` and `finance-recon breaks` use this module. Runs are found the way the
publisher links them, through `history.py` (the one reader of `latest.json` and manifests, and the
one walk along `previous_manifest_key`); its contract errors become `ReaderError`s here. Money stays per currency: a manifest of the current shape carries
`totals_by_currency`; one published before that carries a single `totals` object, which this reader
shows as "not split by currency" and never adds across currencies.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from finance_recon.report.history import (
    LATEST_KEY,
    InvalidReportError,
    PublishedRun,
    check_schema_version,
    latest_manifest_key,
    read_json,
    walk,
)
from finance_recon.report.store import ReportStore, StoreError

CLOSE_LATEST_KEY = "close/latest.json"
LINKED_FILES = ("summary.html", "summary.json", "breaks.csv", "breaks.parquet", "manifest.json")


class ReaderError(ValueError):
    """What the reader was asked for is not in the store (no report, unknown run id)."""


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    total_expected: Decimal
    total_net: Decimal
    break_amount: Decimal
    break_count: int
    item_count: int

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "total_expected": str(self.total_expected),
            "total_net": str(self.total_net),
            "break_amount": str(self.break_amount),
            "break_count": self.break_count,
            "item_count": self.item_count,
        }


@dataclass(frozen=True)
class RunView(PublishedRun):
    """One published run as its manifest describes it."""

    manifest: dict[str, Any] = field(repr=False)

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def as_of(self) -> str:
        return str(self.manifest["as_of"])

    @property
    def verdict(self) -> str:
        return str(self.manifest.get("verdict"))

    @property
    def breaks(self) -> int:
        return int(self.manifest.get("breaks", 0))

    @property
    def split_by_currency(self) -> bool:
        return "totals_by_currency" in self.manifest

    @property
    def totals_by_currency(self) -> list[CurrencyTotals]:
        rows = self.manifest.get("totals_by_currency") or []
        return [
            CurrencyTotals(
                currency=str(r["currency"]),
                total_expected=Decimal(str(r["total_expected"])),
                total_net=Decimal(str(r["total_net"])),
                break_amount=Decimal(str(r["break_amount"])),
                break_count=int(r.get("break_count", 0)),
                item_count=int(r.get("item_count", 0)),
            )
            for r in sorted(rows, key=lambda r: r["currency"])
        ]

    @property
    def legacy_note(self) -> str | None:
        if self.split_by_currency:
            return None
        version = self.manifest.get("schema_version", "?")
        return f"totals not split by currency (published before per-currency totals, manifest schema_version {version})"


@contextmanager
def _contract(store: ReportStore) -> Iterator[None]:
    """What the store holds breaks the report-store contract: one line naming where."""
    try:
        yield
    except InvalidReportError as exc:
        raise ReaderError(f"{store.uri.rstrip('/')}/{exc}") from exc


def _views(store: ReportStore, start: PublishedRun | str | None, limit: int | None) -> list[RunView]:
    with _contract(store):
        return [RunView(r.manifest_key, r.manifest) for r in islice(walk(store, start), limit)]


def runs(store: ReportStore, limit: int | None = None, latest_key: str = LATEST_KEY) -> list[RunView]:
    """Published runs, newest first, following `previous_manifest_key` from `latest_key`."""
    with _contract(store):
        key = latest_manifest_key(store, latest_key)
    return _views(store, key, limit)


def find_run(store: ReportStore, run_id: str | None) -> RunView:
    """The latest run, or the run `run_id` (found by its prefix `dt=*/run=<id>/manifest.json`)."""
    if run_id is None:
        latest = runs(store, limit=1)
        if not latest:
            raise ReaderError(f"no report published in {store.uri} yet ({LATEST_KEY} missing)")
        return latest[0]
    suffix = f"/run={run_id}/manifest.json"
    keys = [k for k in store.list_keys() if k.endswith(suffix)]
    if not keys:
        raise ReaderError(f"--run {run_id!r}: no published run with that id in {store.uri}")
    with _contract(store):
        manifest = read_json(store, keys[0])
        assert manifest is not None
        check_schema_version(manifest, keys[0])
    return RunView(keys[0], manifest)


def trend(store: ReportStore, run: RunView, last: int) -> list[dict[str, Any]]:
    """The `last` runs up to and including `run`, oldest first: break count and amount per currency."""
    chain = _views(store, run, max(1, last))
    return [
        {
            "run_id": r.run_id,
            "as_of": r.as_of,
            "breaks": r.breaks,
            "by_currency": (
                [
                    {
                        "currency": t.currency,
                        "break_count": t.break_count,
                        "break_amount": str(t.break_amount),
                    }
                    for t in r.totals_by_currency
                ]
                if r.split_by_currency
                else None
            ),
            **({"note": r.legacy_note} if r.legacy_note else {}),
        }
        for r in reversed(chain)
    ]


def links(store: ReportStore, run: RunView, expiry_seconds: int) -> list[dict[str, str]]:
    """For each published file of the run: its store URI and a link that opens (presigned on S3)."""
    out = []
    for name in LINKED_FILES:
        key = run.manifest_key if name == "manifest.json" else run.file_key(name)
        if key is None:
            continue
        uri = store.s3_uri(key) if hasattr(store, "s3_uri") else store.url_for(key)
        out.append({"name": name, "uri": uri, "link": store.link_for(key, expiry_seconds)})
    return out


def link_expires_at(store: ReportStore, expiry_seconds: int, now: datetime | None = None) -> str | None:
    if not hasattr(store, "s3_uri"):
        return None  # file:// links do not expire
    moment = (now or datetime.now(UTC)) + timedelta(seconds=expiry_seconds)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(store: ReportStore, run: RunView, last: int, expiry_seconds: int) -> dict[str, Any]:
    """The JSON document `finance-recon report --json` prints."""
    m = run.manifest
    return {
        "run_id": run.run_id,
        "as_of": run.as_of,
        "run_ended_at": m.get("run_ended_at"),
        "verdict": run.verdict,
        "parameters": m.get("parameters"),
        "breaks": run.breaks,
        "counts": m.get("counts"),
        "lifecycle": m.get("lifecycle"),
        "totals_by_currency": (
            [t.as_json() for t in run.totals_by_currency] if run.split_by_currency else None
        ),
        **({"totals_note": run.legacy_note} if run.legacy_note else {}),
        "manifest_key": run.manifest_key,
        "links": links(store, run, expiry_seconds),
        "links_expire_at": link_expires_at(store, expiry_seconds),
        "trend": trend(store, run, last),
    }


def closes(store: ReportStore) -> list[dict[str, Any]]:
    """Published daily closes (`close/dt=YYYY-MM-DD/manifest.json`), oldest day first."""
    out = []
    for key in store.list_keys("close/"):
        if key.startswith("close/dt=") and key.endswith("/manifest.json"):
            with _contract(store):
                manifest = read_json(store, key)
            if manifest is not None:
                out.append(
                    {
                        "date": key.split("/")[1].removeprefix("dt="),
                        "as_of": manifest.get("as_of"),
                        "run_id": manifest.get("run_id"),
                        "verdict": manifest.get("verdict"),
                        "breaks": manifest.get("breaks"),
                        "manifest_key": key,
                    }
                )
    return sorted(out, key=lambda c: c["date"])


def read_breaks(store: ReportStore, run: RunView):
    """The run's breaks.parquet as a pyarrow Table (pyarrow imported here: `--help` stays light)."""
    import pyarrow.parquet as pq

    key = run.file_key("breaks.parquet")
    data = store.get(key) if key else None
    if data is None:
        raise ReaderError(f"run {run.run_id}: breaks.parquet missing from {store.uri}")
    return pq.read_table(io.BytesIO(data))


def filter_breaks(
    table,
    *,
    as_of: datetime,
    category: str | None = None,
    lifecycle: str | None = None,
    min_age_days: float | None = None,
    currency: str | None = None,
) -> list[dict[str, Any]]:
    """Rows matching every given filter, as plain dicts (decimals and timestamps as strings).

    Age is `as_of - created_at` of the run, in days (the report's age is relative to its cut-off).
    """
    rows = []
    for row in table.to_pylist():
        if category is not None and row.get("category") != category:
            continue
        if lifecycle is not None and row.get("lifecycle") != lifecycle:
            continue
        if currency is not None and (row.get("currency") or "").upper() != currency.upper():
            continue
        created = row.get("created_at")
        if min_age_days is not None and (created is None or (as_of - created) < timedelta(days=min_age_days)):
            continue
        rows.append({k: _plain(v) for k, v in row.items()})
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


__all__ = [
    "ReaderError",
    "RunView",
    "StoreError",
    "closes",
    "filter_breaks",
    "find_run",
    "links",
    "read_breaks",
    "runs",
    "summary",
    "trend",
]
