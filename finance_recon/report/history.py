"""The previous published run, against which break lifecycle is computed.

"Previous" is the newest published run whose `as_of` is strictly earlier than this run's, found by
walking back from `latest.json` along each manifest's `previous_manifest_key`. A rerun with the same
`as_of` therefore compares against the same run as the original did, so reruns are byte-identical.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from finance_recon.reconciliation.parameters import parse_as_of
from finance_recon.report.store import ReportStore

LATEST_KEY = "latest.json"


@dataclass(frozen=True)
class PublishedRun:
    manifest_key: str
    manifest: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    def file_key(self, name: str) -> str | None:
        return next((f["key"] for f in self.manifest.get("files", []) if f["name"] == name), None)


def read_json(store: ReportStore, key: str) -> dict[str, Any] | None:
    data = store.get(key)
    return None if data is None else json.loads(data)


def latest_run(store: ReportStore) -> PublishedRun | None:
    latest = read_json(store, LATEST_KEY)
    if not latest:
        return None
    manifest = read_json(store, latest["manifest_key"])
    return PublishedRun(latest["manifest_key"], manifest) if manifest else None


def previous_run(store: ReportStore, as_of: datetime) -> PublishedRun | None:
    latest = read_json(store, LATEST_KEY)
    key = latest["manifest_key"] if latest else None
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


def previous_breaks(store: ReportStore, run: PublishedRun | None, schema: pa.Schema) -> pa.Table:
    """The previous run's breaks.parquet (empty with `schema` when there is no previous run)."""
    key = run.file_key("breaks.parquet") if run else None
    data = store.get(key) if key else None
    if data is None:
        return schema.empty_table()
    table = pq.read_table(io.BytesIO(data))
    # a run published before a column existed: that column is NULL for its breaks
    columns = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.table(columns, names=schema.names).cast(schema)
