"""Reading what was published: `latest.json`, the manifest it names, and the previous published run,
against which break lifecycle is computed. The one reader of `latest.json` and manifest bytes, and
the one walk along the chain of published runs (`walk`); `metrics/latest.py` parses the manifest's
fields for the exporter on top of it, `reader.py` shows runs for `finance-recon report`/`breaks`.

"Previous" is the newest published run whose `as_of` is strictly earlier than this run's, found by
walking back from `latest.json` along each manifest's `previous_manifest_key`. A rerun with the same
`as_of` therefore compares against the same run as the original did, so reruns are byte-identical.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from finance_recon.reconciliation.parameters import parse_as_of
from finance_recon.report.store import ReportStore

LATEST_KEY = "latest.json"
MANIFEST_NAME = "manifest.json"
# 2: a file entry's `key` may lie under an earlier run's prefix (its breaks reused, marked by
# `REUSED_FROM`), so a file is found by its entry's key, never by the run prefix + its name.
# 1: every file under the run's own prefix. A reader reads both; a newer one is refused by name.
MANIFEST_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
# The run that wrote a reused file (always the original writer, never a run that reused it too).
REUSED_FROM = "published_by_run_id"


class InvalidReportError(ValueError):
    """`latest.json` or the manifest it names does not follow the report-store contract."""


@dataclass(frozen=True)
class PublishedRun:
    manifest_key: str
    manifest: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    def file_entry(self, name: str) -> dict[str, Any] | None:
        """The manifest's entry of the file `name` (key, bytes, sha256, rows), or None."""
        return next((f for f in self.manifest.get("files", []) if f["name"] == name), None)

    def file_key(self, name: str) -> str | None:
        """Where the file `name` of this run is stored: its entry's key, which may be under an earlier
        run's prefix (schema 2), so never rebuilt from the run prefix."""
        entry = self.file_entry(name)
        return entry["key"] if entry else None


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


def latest_manifest_key(store: ReportStore, pointer_key: str = LATEST_KEY) -> str | None:
    """The manifest `latest.json` (or another pointer, e.g. the close's) names; None when there is
    no such pointer."""
    pointer = read_json(store, pointer_key)
    if pointer is None:
        return None
    manifest_key = pointer.get("manifest_key")
    if not isinstance(manifest_key, str) or not manifest_key.endswith(MANIFEST_NAME):
        raise InvalidReportError(f"{pointer_key}: 'manifest_key' missing or not a manifest: {manifest_key!r}")
    return manifest_key


def check_schema_version(manifest: dict[str, Any], key: str) -> None:
    """A manifest newer than this reader is refused by name: it may locate files in a way this
    reader would get wrong, and a wrong file is worse than an error."""
    version = manifest.get("schema_version", 1)
    if version not in READABLE_SCHEMA_VERSIONS:
        readable = ", ".join(str(v) for v in READABLE_SCHEMA_VERSIONS)
        raise InvalidReportError(
            f"{key}: manifest schema_version {version!r} is not one this finance_recon reads "
            f"({readable}); upgrade finance_recon to read it"
        )


def read_run(store: ReportStore, key: str | None) -> PublishedRun | None:
    """The run whose manifest is `key`, or None when there is no key or no such manifest."""
    manifest = read_json(store, key) if key else None
    if key and manifest:
        check_schema_version(manifest, key)
    return PublishedRun(key, manifest) if key and manifest else None


def walk(store: ReportStore, start: PublishedRun | str | None) -> Iterator[PublishedRun]:
    """Published runs from `start` (a run already read, or its manifest key) back along each
    manifest's `previous_manifest_key`, newest first. Ends at the first run without a previous one,
    a manifest missing from the store, or a key seen before (a loop never hangs a reader). Each
    manifest is read only when the next run is asked for."""
    run = start if isinstance(start, PublishedRun) or start is None else read_run(store, start)
    seen: set[str] = set()
    while run is not None:
        seen.add(run.manifest_key)
        yield run
        key = run.manifest.get("previous_manifest_key")
        run = read_run(store, key) if key not in seen else None


def latest_run(store: ReportStore) -> PublishedRun | None:
    return read_run(store, latest_manifest_key(store))


def previous_run(store: ReportStore, as_of: datetime) -> PublishedRun | None:
    return next(
        (
            run
            for run in walk(store, latest_manifest_key(store))
            if parse_as_of(run.manifest["as_of"]) < as_of
        ),
        None,
    )


def earlier_runs(store: ReportStore, previous: PublishedRun | None, limit: int) -> list[PublishedRun]:
    """Up to `limit` published runs from `previous` back, newest first, one per `as_of` (the newest
    published for it): the trend behind this run. It depends only on what was published before
    `previous`, never on a rerun of this run's own `as_of`, so a rerun's page stays byte-identical."""
    found: list[PublishedRun] = []
    for run in walk(store, previous):
        if len(found) >= limit:
            break
        if not found or parse_as_of(run.manifest["as_of"]) < parse_as_of(found[-1].manifest["as_of"]):
            found.append(run)
    return found


def previous_breaks_file(store: ReportStore, run: PublishedRun | None, folder: Path) -> Path | None:
    """The previous run's breaks.parquet copied into `folder` (streamed, never held in memory), or
    None when there is no previous run or it published no breaks file."""
    key = run.file_key("breaks.parquet") if run else None
    if key is None:
        return None
    destination = folder / "previous-breaks.parquet"
    return destination if store.get_file(key, destination) else None
