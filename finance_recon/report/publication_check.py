"""`finance_reconciliation_report:publication` — the report asset's own check, on its Checks tab.

The blocking `rpt_reconciliation_summary:report_consistency` check keeps an inconsistent
reconciliation from being published at all; this one looks at what the report asset did publish,
after it published, by reading the report store back (local folder or S3) exactly as a reader would:

- `latest.json` names the run of the report's latest materialization and that run's manifest;
- the manifest exists, is that run's, and lists every artifact a publication has (breaks.csv,
  breaks.parquet, summary.json, summary.html), each under that run's prefix — except breaks files
  reused from an earlier run (`reuse.py`), which must lie under the prefix of the run their entry
  names in `published_by_run_id`;
- each listed file, wherever it lies, is in the store with the size and SHA-256 the manifest records;
- the break continuity the manifest records holds (open = previous open + new − resolved) and its
  `previous_open` is what the previous run's manifest published.

Non-blocking: nothing is downstream of the report, and what it checks is already published; a failure
(severity ERROR) alerts through the check sensor and names every mismatch.
"""

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from finance_recon.names import PUBLICATION_CHECK, REPORT_KEY
from finance_recon.report.history import LATEST_KEY, REUSED_FROM
from finance_recon.report.resources import ReportStoreResource
from finance_recon.report.store import ReportStore, StoreError

# Every publication has these (report/assets.py), each listed in its manifest.
ARTIFACTS = ("breaks.csv", "breaks.parquet", "summary.json", "summary.html")
# The files a run may reference from an earlier run instead of writing them (report/reuse.py).
REUSABLE = ("breaks.csv", "breaks.parquet")


def _json(store: ReportStore, key: str) -> dict[str, Any] | None:
    data = store.get(key)
    return None if data is None else json.loads(data)


def _sha256(store: ReportStore, key: str, scratch: Path) -> tuple[int, str] | None:
    """Size and SHA-256 of one stored object, streamed through a scratch file (breaks can be large)."""
    path = scratch / "object"
    if not store.get_file(key, path):
        return None
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    size = path.stat().st_size
    path.unlink()
    return size, digest


def _misplaced(name: str, entry: dict[str, Any], prefix: str) -> str | None:
    """Why the file's key is not where the manifest's run may keep it, or None: under the run's own
    prefix, or a reused breaks file under the prefix of the run that wrote it."""
    key = entry["key"]
    if key.startswith(prefix):
        return None
    writer = entry.get(REUSED_FROM)
    if writer is None:
        return f"{name} is stored at {key}, outside this run's {prefix}"
    folder, _, file_name = key.rpartition("/")
    if name not in REUSABLE or file_name != name or not folder.endswith(f"/run={writer}"):
        return f"{name} is reused from run {writer} but stored at {key}, not under that run's prefix"
    return None


def verify_publication(store: ReportStore, run_id: str, manifest_key: str) -> AssetCheckResult:
    """The check's body (also called directly by tests): the publication of `run_id` as stored."""
    problems: list[str] = []
    verified: list[str] = []
    latest = _json(store, LATEST_KEY)
    if latest is None:
        problems.append(f"{LATEST_KEY} is missing")
    else:
        if latest.get("run_id") != run_id:
            problems.append(f"{LATEST_KEY} names run {latest.get('run_id')}, not this report's run {run_id}")
        if latest.get("manifest_key") != manifest_key:
            problems.append(f"{LATEST_KEY} names {latest.get('manifest_key')}, not {manifest_key}")
    manifest = _json(store, manifest_key)
    continuity: dict[str, Any] = {}
    if manifest is None:
        problems.append(f"the manifest {manifest_key} is missing")
    else:
        if manifest.get("run_id") != run_id:
            problems.append(f"the manifest is run {manifest.get('run_id')}'s, not {run_id}'s")
        files = {f["name"]: f for f in manifest.get("files", [])}
        problems += [f"the manifest lists no {name}" for name in ARTIFACTS if name not in files]
        prefix = manifest_key.rsplit("/", 1)[0] + "/"
        with tempfile.TemporaryDirectory(prefix="finance-recon-check-") as scratch:
            for name, entry in files.items():
                misplaced = _misplaced(name, entry, prefix)
                if misplaced:
                    problems.append(misplaced)
                stored = _sha256(store, entry["key"], Path(scratch))
                if stored is None:
                    problems.append(f"{name} is listed but missing from the store ({entry['key']})")
                elif stored != (entry["bytes"], entry["sha256"]):
                    problems.append(
                        f"{name} differs from its manifest entry: {stored[0]} bytes sha256 {stored[1][:12]}… "
                        f"stored, {entry['bytes']} bytes sha256 {entry['sha256'][:12]}… listed"
                    )
                else:
                    verified.append(name)
        continuity = manifest.get("continuity") or {}
        expected_open = (
            continuity.get("previous_open", 0) + continuity.get("new", 0) - continuity.get("resolved", 0)
        )
        if (
            not continuity
            or continuity.get("open") != expected_open
            or manifest.get("breaks") != expected_open
        ):
            problems.append(
                f"break continuity does not hold: open {continuity.get('open')} (breaks "
                f"{manifest.get('breaks')}) ≠ previous open {continuity.get('previous_open')} + new "
                f"{continuity.get('new')} − resolved {continuity.get('resolved')}"
            )
        previous_key = manifest.get("previous_manifest_key")
        if previous_key:
            previous = _json(store, previous_key)
            if previous is None:
                problems.append(f"the previous run's manifest {previous_key} is missing")
            elif int(previous.get("breaks", 0)) != continuity.get("previous_open"):
                problems.append(
                    f"previous open breaks {continuity.get('previous_open')} ≠ the {previous.get('breaks')} "
                    f"the previous run ({previous.get('run_id')}) published"
                )
    passed = not problems
    description = (
        f"run {run_id}: {LATEST_KEY} names it, its manifest lists all {len(verified)} artifacts and each "
        "matches its size and SHA-256 in the store, break continuity holds"
        if passed
        else f"publication of run {run_id} is not consistent: " + "; ".join(problems)
    )
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "run_id": run_id,
            "manifest_key": manifest_key,
            "files_verified": ", ".join(sorted(verified)),
            "problems": MetadataValue.json(problems),
            "continuity": MetadataValue.json(continuity),
        },
    )


@asset_check(
    asset=REPORT_KEY,
    name=PUBLICATION_CHECK,
    blocking=False,
    description=(
        "What the report published, read back from the report store: latest.json names this run and "
        "its manifest; the manifest lists breaks.csv, breaks.parquet, summary.json and summary.html, each "
        "stored (the breaks possibly reused from an earlier run) with the size and SHA-256 it records; break continuity holds against the previous run's "
        "manifest. (The blocking rpt_reconciliation_summary:report_consistency check keeps an "
        "inconsistent reconciliation from being published at all.)"
    ),
)
def report_publication(context: AssetCheckExecutionContext, report_store: ReportStoreResource):
    event = context.instance.get_latest_materialization_event(REPORT_KEY)
    if event is None or event.asset_materialization is None:
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description="the report has not been materialized yet: nothing published to check",
        )
    manifest_key = event.asset_materialization.metadata.get("manifest_key")
    manifest_key = getattr(manifest_key, "value", manifest_key)
    try:
        return verify_publication(report_store.open(), event.run_id, str(manifest_key))
    except StoreError as exc:
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            description=f"the report store could not be read back: {exc}",
        )
