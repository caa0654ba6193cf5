"""The run lock: one reconciliation at a time, for CLI, schedule and UI runs alike.

An exclusive `flock` on `<FINANCE_RECON_HOME>/locks/reconciliation.lock`, taken without waiting.
Two simultaneous starts cannot both take it, and the kernel releases it when its process dies, so
a crash never blocks the next run. While held, the file names its holder (run id, pid, host,
start time) so that the one that is refused can say who is running.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from finance_recon.runs.errors import RunLockHeldError, StateFolderError, state_folder_error

LOCK_NAME = "reconciliation.lock"


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid
    it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


@dataclass(frozen=True)
class Holder:
    run_id: str
    pid: int
    host: str
    started_at: str  # ISO-8601, UTC
    pid_start: int | None = None

    @classmethod
    def for_this_process(cls, run_id: str) -> Holder:
        pid = os.getpid()
        return cls(
            run_id=run_id,
            pid=pid,
            host=socket.gethostname(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            pid_start=process_start_ticks(pid),
        )

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on host {self.host}, started at {self.started_at})"


class RunLock:
    """`with RunLock(home).acquire(run_id):` — raises `RunLockHeldError` at once when taken."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.path = self.home / "locks" / LOCK_NAME
        self._fd: int | None = None
        self.holder: Holder | None = None

    def acquire(self, run_id: str) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise state_folder_error(exc, self.path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise state_folder_error(exc, self.path) from None
            holder = _current_holder(self.path)
            raise RunLockHeldError(
                f"another reconciliation is running: {_describe(holder)}; lock {self.path}", holder
            ) from None
        holder = Holder.for_this_process(run_id)
        try:
            data = json.dumps(asdict(holder), sort_keys=True).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)  # releases the lock
            raise state_folder_error(exc, self.path) from None
        self._fd, self.holder = fd, holder
        return self

    def busy(self) -> str | None:
        """Who runs now, without waiting and without keeping the lock: the holder's description while
        a reconciliation holds it, None when it is free (the schedule asks before each tick). The
        probe takes a shared lock for an instant; a run starting in that instant is refused as it
        would be by any other holder."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None  # never run in this home
        except OSError as exc:
            raise state_folder_error(exc, self.path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise state_folder_error(exc, self.path) from None
            return _describe(_current_holder(self.path))
        finally:
            os.close(fd)  # releases the probe's shared lock
        return None

    def release(self) -> None:
        if self._fd is not None:
            # The record stays: it tells the next run who held the lock last.
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _describe(holder: Holder | None) -> str:
    return holder.describe() if holder else "another process (its holder record is not written yet)"


def _is_live(holder: Holder) -> bool:
    if holder.host != socket.gethostname():
        return True  # cannot tell from here
    start = process_start_ticks(holder.pid)
    return start is not None and (holder.pid_start is None or start == holder.pid_start)


def _current_holder(path: Path, wait_s: float = 1.0) -> Holder | None:
    """The record of the live holder: a new holder writes its record just after taking the lock,
    so until then the file may still name the previous (finished) one."""
    deadline = time.monotonic() + wait_s
    while True:
        holder = read_holder(path)
        if (holder is not None and _is_live(holder)) or time.monotonic() > deadline:
            return holder if holder is not None and _is_live(holder) else None
        time.sleep(0.02)


def read_holder(path: Path) -> Holder | None:
    """The last holder recorded in the lock file (it may have finished or died since)."""
    try:
        raw = json.loads(Path(path).read_text() or "null")
        return Holder(**raw) if isinstance(raw, dict) else None
    except (OSError, ValueError, TypeError):
        return None


__all__ = ["Holder", "RunLock", "RunLockHeldError", "StateFolderError", "process_start_ticks", "read_holder"]
