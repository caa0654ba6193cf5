"""dbt's partial-parse state, kept beside the warehouse so that runs after the first skip parsing.

dagster-dbt gives every `dbt build` a fresh target folder and seeds it with the project's prepared
`target/partial_parse.msgpack`. That file was parsed with another profile (the warehouse path is
part of dbt's profile hash) so dbt re-parses the whole project on every run. Here each run's target
folder lives under `<warehouse dir>/dbt-target/`, is seeded with the state the previous run of the
same warehouse left, and the state it leaves is kept for the next run (atomically replaced).
Only the newest few run folders are kept (their run_results.json and dbt.log are for debugging).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_PARSE = "partial_parse.msgpack"
KEEP_RUN_FOLDERS = 5


def state_dir(warehouse_path: str | Path) -> Path:
    return Path(warehouse_path).resolve().parent / "dbt-target"


@contextmanager
def run_target_path(warehouse_path: str | Path, run_id: str) -> Iterator[Path]:
    """A target folder for one dbt invocation, seeded with (and saving back) the parse state."""
    root = state_dir(warehouse_path)
    runs = root / "runs"
    target = runs / run_id
    target.mkdir(parents=True, exist_ok=True)
    cached = root / PARTIAL_PARSE
    if cached.exists():
        shutil.copyfile(cached, target / PARTIAL_PARSE)
    try:
        yield target
    finally:
        produced = target / PARTIAL_PARSE
        if produced.exists():
            tmp = root / f".{PARTIAL_PARSE}.{run_id}"
            shutil.copyfile(produced, tmp)
            tmp.replace(cached)
        _prune(runs, keep=KEEP_RUN_FOLDERS)


def _prune(runs: Path, keep: int) -> None:
    folders = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in folders[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
