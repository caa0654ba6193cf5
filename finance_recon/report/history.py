"""Reading what was published: `latest.json`, the manifest it names, and the previous published run,
against which break lifecycle is computed. The one reader of `latest.json` and manifest bytes;
`metrics/latest.py` parses the manifest's fields for the exporter on top of it.

"Previous" is the newest published run whose `as_of` is strictly earlier than this run's, found by
walking back from `latest.json` along each manifest's `previous_manifest_key`. A rerun with the same
`as_of` therefore compares against the same run as the original did, so reruns are byte-identical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from finance_recon.reconciliation.parameters import parse_as_of
from finance_recon.report.store import ReportStore

LATEST_KEY = "latest.json"
MANIFEST_NAME = "manifest.json"


class InvalidReportError(ValueError):
    """`latest.json` or the manifest it names does not follow the report-store contract."""


@dataclass(frozen=True)
class PublishedRun:
    manifest_key: str
    manifest: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    def file_key(self, name: str) -> str | None:
        return next((f["key"] for f in self.manifest.get("files", []) if f["name"] == name), None)


def load_json(raw: bytes, key: str) -> dict[str, Any]:
    """A JSON object read from the store, or `InvalidReportError` naming the key."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidReportError(f"{key}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise InvalidReportError(f"{key}: expected a JSON object, got {type(value).__name__}")
    return value


def read_json(store: ReportStore, key: str) -> dict[str, Any] | None:
    data = store.get(key)
    return None if data is None else load_json(data, key)


def latest_manifest_key(store: ReportStore) -> str | None:
    """The manifest `latest.json` names (None when there is no `latest.json`)."""
    pointer = read_json(store, LATEST_KEY)
    if pointer is None:
        return None
    manifest_key = pointer.get("manifest_key")
    if not isinstance(manifest_key, str) or not manifest_key.endswith(MANIFEST_NAME):
        raise InvalidReportError(f"{LATEST_KEY}: 'manifest_key' missing or not a manifest: {manifest_key!r}")
    return manifest_key


def latest_run(store: ReportStore) -> PublishedRun | None:
    key = latest_manifest_key(store)
    manifest = read_json(store, key) if key else None
    return PublishedRun(key, manifest) if key and manifest else None


def previous_run(store: ReportStore, as_of: datetime) -> PublishedRun | None:
    key = latest_manifest_key(store)
    seen: set[str] = set()
    while key and key not in seen:
        seen.add(key)
        manifest = read_json(store, key)
        if manifest is None:
            return None
        if parse_as_of(manifest["as_of"]) < as_of:
            return PublishedRun(key, manifest)
        key = manifest.get("previous_manifest_key")
    return None


def earlier_runs(store: ReportStore, previous: PublishedRun | None, limit: int) -> list[PublishedRun]:
    """Up to `limit` published runs from `previous` back, newest first, one per `as_of` (the newest
    published for it): the trend behind this run. It depends only on what was published before
    `previous`, never on a rerun of this run's own `as_of`, so a rerun's page stays byte-identical."""
    found: list[PublishedRun] = []
    run = previous
    seen: set[str] = set()
    while run is not None and len(found) < limit and run.manifest_key not in seen:
        seen.add(run.manifest_key)
        if not found or parse_as_of(run.manifest["as_of"]) < parse_as_of(found[-1].manifest["as_of"]):
            found.append(run)
        key = run.manifest.get("previous_manifest_key")
        manifest = read_json(store, key) if key else None
        run = PublishedRun(key, manifest) if key and manifest else None
    return found


def previous_breaks_file(store: ReportStore, run: PublishedRun | None, folder: Path) -> Path | None:
    """The previous run's breaks.parquet copied into `folder` (streamed, never held in memory), or
    None when there is no previous run or it published no breaks file."""
    key = run.file_key("breaks.parquet") if run else None
    if key is None:
        return None
    destination = folder / "previous-breaks.parquet"
    return destination if store.get_file(key, destination) else None
