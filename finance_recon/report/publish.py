"""Publishing a run to the report store in the order that makes it safe (contracts §3).

Artifacts first, `manifest.json` last (a run exists once its manifest exists), then `latest.json`.
A failure anywhere before the manifest leaves orphan files under the run's own prefix and nothing
else: `latest.json` and every earlier run stay as they were.

Files a run reuses (its breaks, unchanged since the previous run: `reuse.py`) are not written at
all: their entries, copied from the previous manifest, name the original object by key and hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from finance_recon.report.history import LATEST_KEY, MANIFEST_SCHEMA_VERSION, PublishedRun
from finance_recon.report.render import Artifact, iso
from finance_recon.report.store import ReportStore

__all__ = ["MANIFEST_SCHEMA_VERSION", "Publication", "publish", "run_prefix"]


def run_prefix(as_of: datetime, run_id: str) -> str:
    return f"dt={as_of.strftime('%Y-%m-%d')}/run={run_id}/"


@dataclass(frozen=True)
class Publication:
    manifest_key: str
    manifest: dict[str, Any]
    url: str


def _dump(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def publish(
    store: ReportStore,
    *,
    run_id: str,
    as_of: datetime,
    artifacts: list[Artifact],
    manifest_fields: dict[str, Any],
    run_ended_at: datetime,
    previous: PublishedRun | None,
    reused: list[dict[str, Any]] | tuple[()] = (),
) -> Publication:
    """Write `artifacts` under the run's prefix, then the manifest listing them after the `reused`
    entries (files of an earlier run, left where they are), then `latest.json`."""
    prefix = run_prefix(as_of, run_id)
    files = [dict(entry) for entry in reused]
    for artifact in artifacts:
        key = prefix + artifact.name
        if artifact.path is not None:  # streamed from its file (the breaks)
            with open(artifact.path, "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
            size = artifact.path.stat().st_size
            store.put_file(key, artifact.path, artifact.content_type)
        else:
            digest, size = hashlib.sha256(artifact.data).hexdigest(), len(artifact.data)
            store.put(key, artifact.data, artifact.content_type)
        files.append(
            {"name": artifact.name, "key": key, "bytes": size, "sha256": digest, "rows": artifact.rows}
        )
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "run_id": run_id,
        "as_of": iso(as_of),
        **manifest_fields,
        "run_ended_at": iso(run_ended_at),
        "previous_run_id": previous.run_id if previous else None,
        "previous_manifest_key": previous.manifest_key if previous else None,
        "files": files,
    }
    manifest_key = prefix + "manifest.json"
    store.put(manifest_key, _dump(manifest), "application/json")
    latest = {
        "run_id": run_id,
        "manifest_key": manifest_key,
        "as_of": manifest["as_of"],
        "run_ended_at": manifest["run_ended_at"],
        "verdict": manifest.get("verdict"),
    }
    store.put(LATEST_KEY, _dump(latest), "application/json")
    return Publication(
        manifest_key=manifest_key, manifest=manifest, url=store.url_for(prefix + "summary.html")
    )
