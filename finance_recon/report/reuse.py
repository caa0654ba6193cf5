"""Republish cost follows change (issue 27): breaks unchanged since the previous run are not rewritten.

At 10M orders a run publishes ~843k open breaks; when none changed, writing breaks.csv and
breaks.parquet again would give the very bytes already in the store (render.py: same rows in the
same order, same bytes). So before anything is rendered, the staged breaks are compared with the
previous run's breaks.parquet inside DuckDB (`StagedBreaks.same_as_previous`); when they are equal
row for row, the new manifest's entries for both files are the previous manifest's (key, bytes,
sha256, rows) plus `published_by_run_id`, the run that wrote them. Copied entries keep pointing at
the original objects, so a chain of reuses never leads through a manifest. Anything unsure
(no previous run, a missing entry, a stored object that is not the one recorded) means rewriting.

The rolling `latest.json` still names a complete run: the manifest lists every file, each stored
with the size and hash it records (checked by `publication_check.py`).
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finance_recon.report.breaks import StagedBreaks
from finance_recon.report.history import REUSED_FROM, PublishedRun
from finance_recon.report.store import ReportStore

BREAKS_FILES = ("breaks.csv", "breaks.parquet")


@dataclass(frozen=True)
class BreaksReuse:
    """What a run does with its breaks files: `entries` (copied from the previous manifest) when
    reused, none when they are rewritten."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reused(self) -> bool:
        return bool(self.entries)

    @property
    def published_by(self) -> str | None:
        return self.entries[0][REUSED_FROM] if self.entries else None

    def keys(self, prefix: str) -> dict[str, str]:
        """Where each breaks file of the run will be: the reused object, or under the run's prefix."""
        reused = {e["name"]: e["key"] for e in self.entries}
        return {name: reused.get(name, prefix + name) for name in BREAKS_FILES}

    def describe(self) -> str:
        """One line for the run's metadata: the UI says whether the breaks were written."""
        return f"reused from run {self.published_by}" if self.reused else "rewritten"


REWRITE = BreaksReuse()


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _is_recorded_file(path: Path, entry: dict[str, Any]) -> bool:
    return path.stat().st_size == entry.get("bytes") and _sha256(path) == entry.get("sha256")


def _reused_entry(entry: dict[str, Any], previous_run_id: str) -> dict[str, Any]:
    # An entry the previous run reused itself keeps its original writer: keys never lead to a manifest.
    return {**entry, REUSED_FROM: entry.get(REUSED_FROM) or previous_run_id}


def decide(
    store: ReportStore,
    previous: PublishedRun | None,
    previous_file: Path | None,
    breaks: StagedBreaks,
) -> BreaksReuse:
    """Reuse the previous run's breaks files when the staged breaks equal them, else `REWRITE`.

    `previous_file` is the previous run's breaks.parquet as downloaded for the lifecycle
    (`history.previous_breaks_file`): it must be the object the previous manifest records (size and
    SHA-256), and its breaks.csv must still be stored with its recorded size. The cheap checks go
    first, the row comparison (a join of both sides on break_id in DuckDB) last."""
    if previous is None or previous_file is None:
        return REWRITE
    entries = [previous.file_entry(name) for name in BREAKS_FILES]
    if any(entry is None for entry in entries):
        return REWRITE
    csv_entry, parquet_entry = entries
    if not _is_recorded_file(previous_file, parquet_entry):
        return REWRITE
    if store.size(csv_entry["key"]) != csv_entry.get("bytes"):
        return REWRITE
    if not breaks.same_as_previous():
        return REWRITE
    return BreaksReuse([_reused_entry(entry, previous.run_id) for entry in entries])


def relative_link(prefix: str, key: str) -> str:
    """The href from a page under `prefix` to the object `key` (both relative to the store root):
    `breaks.csv` for the run's own file, `../../dt=…/run=…/breaks.csv` for a reused one."""
    return posixpath.relpath(key, prefix.rstrip("/") or ".")
