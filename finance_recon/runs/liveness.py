"""Is a run's process still alive? Runs whose process is gone are marked failed ("process died")
and the processes they left behind (the `dbt build` child) are stopped.

Every reconciliation records its holder (pid, host, process start time) as run tags when it takes
the run lock (`lock.py`). A run in flight is dead when
- the caller holds the run lock and the run had taken it before (only a dead process loses it), or
- its recorded process no longer exists on this host (same pid and start time), or
- it never took the lock and has not moved for `NEVER_LOCKED_GRACE_S` (its worker died on the way).
Children are found by the marker `FINANCE_RECON_RUN_ID=<run id>` that the run puts in its
environment, which every child inherits (Linux /proc).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from finance_recon.names import PIPELINE_TAGS
from finance_recon.runs.lock import Holder, process_start_ticks

TAG_PID = "finance_recon/pid"
TAG_HOST = "finance_recon/host"
TAG_PID_START = "finance_recon/pid_start"
TAG_LOCKED_AT = "finance_recon/locked_at"
RUN_ID_MARKER = "FINANCE_RECON_RUN_ID"  # put in the run's environment, inherited by its children
NEVER_LOCKED_GRACE_S = 180.0  # as Dagster's own run-monitoring start timeout
PROCESS_DIED = "process died"


def holder_tags(holder: Holder) -> dict[str, str]:
    tags = {TAG_PID: str(holder.pid), TAG_HOST: holder.host, TAG_LOCKED_AT: holder.started_at}
    if holder.pid_start is not None:
        tags[TAG_PID_START] = str(holder.pid_start)
    return tags


def mark_process(run_id: str) -> None:
    """Mark this process (and so every child it starts from now on) as working for `run_id`."""
    os.environ[RUN_ID_MARKER] = run_id


def process_alive(pid: int, host: str, pid_start: int | None) -> bool | None:
    """True/False for a process of this host; None when it ran elsewhere (cannot tell)."""
    if host != socket.gethostname():
        return None
    start = process_start_ticks(pid)
    if start is None:
        return False
    return pid_start is None or start == pid_start


def dead_cause(
    run, *, lock_held: bool, now: float | None = None, update_ts: float | None = None
) -> str | None:
    """Why an in-flight run is dead, or None while it may be alive. `lock_held`: the caller holds
    the run lock right now."""
    tags = run.tags
    if TAG_PID in tags:
        pid, host = int(tags[TAG_PID]), tags.get(TAG_HOST, "")
        start = int(tags[TAG_PID_START]) if tags.get(TAG_PID_START) else None
        where = f"pid {pid} on host {host}"
        alive = process_alive(pid, host, start)
        if alive is False:
            return f"{PROCESS_DIED} ({where} is gone)"
        if alive is None and lock_held:  # another host: every live run holds the lock, this one lost it
            return f"{PROCESS_DIED} ({where} no longer holds the run lock)"
        return None  # alive (perhaps finishing: the lock is released just before the run's last event)
    idle = (now or time.time()) - update_ts if update_ts is not None else 0.0
    if idle > NEVER_LOCKED_GRACE_S and (lock_held or run.status.value in ("STARTED", "NOT_STARTED")):
        return f"{PROCESS_DIED} (it never took the run lock and has not moved for {int(idle)} s)"
    return None


def _pids_marked(run_id: str) -> Iterable[int]:
    needle = f"{RUN_ID_MARKER}={run_id}\0".encode()
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes():
                yield int(entry.name)


def stop_orphans(run_id: str, wait_s: float = 10.0) -> list[int]:
    """SIGKILL the processes a dead run left behind (e.g. its `dbt build`); wait until they are gone."""
    pids = list(_pids_marked(run_id))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    # A killed process is gone once it is a zombie (its files, and the DuckDB lock, are released).
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


IN_FLIGHT_STATUSES = ("NOT_STARTED", "STARTING", "STARTED")


def reap_dead_runs(instance, *, lock_held: bool, exclude: str | None = None) -> list[tuple[str, str]]:
    """Mark dead in-flight reconciliation runs failed and stop their children: [(run id, cause)]."""
    from dagster import DagsterRunStatus, RunsFilter

    records = instance.get_run_records(
        filters=RunsFilter(
            statuses=[DagsterRunStatus(s) for s in IN_FLIGHT_STATUSES],
            tags=PIPELINE_TAGS,
        ),
        limit=20,
    )
    reaped = []
    now = time.time()
    for record in records:
        run = record.dagster_run
        if run.run_id == exclude:
            continue
        cause = dead_cause(run, lock_held=lock_held, now=now, update_ts=record.update_timestamp.timestamp())
        if cause is None:
            continue
        stop_orphans(run.run_id)
        instance.report_run_failed(run, f"{cause}; marked failed by finance_recon")
        reaped.append((run.run_id, cause))
    return reaped
