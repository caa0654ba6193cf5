"""Errors of the run machinery, each a one-line message; `retryable` follows the house taxonomy."""

from __future__ import annotations

import errno
from pathlib import Path

from finance_recon.settings import ENV_HOME


class RunSafetyError(Exception):
    retryable = False


class RunLockHeldError(RunSafetyError):
    """Another reconciliation holds the run lock: try again when it has finished."""

    retryable = True

    def __init__(self, message: str, holder=None):
        super().__init__(message)
        self.holder = holder


class StateFolderError(RunSafetyError):
    """The state folder (FINANCE_RECON_HOME) cannot be written: full, read-only or gone."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def state_folder_error(exc: OSError, path: Path | str) -> StateFolderError:
    if exc.errno in DISK_FULL_ERRNOS:
        what = "is full"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        what = "is not writable"
    else:
        what = "cannot be written"
    return StateFolderError(f"the state folder ({ENV_HOME}) {what}: {path}: {exc.strerror or exc}")


# What SQLite (the Dagster instance under FINANCE_RECON_HOME) and DuckDB say when the disk is full.
_DISK_MESSAGES = (
    "disk i/o error",
    "database or disk is full",
    "no space left on device",
    "attempt to write a readonly database",
    "disk quota exceeded",
)


def state_folder_cause(exc: BaseException, home: Path | str) -> str | None:
    """One line naming FINANCE_RECON_HOME when `exc` (or what caused it) is the state folder being
    full or unwritable; None for any other error."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, StateFolderError):
            return str(error)
        if isinstance(error, OSError) and error.errno in (*DISK_FULL_ERRNOS, errno.EROFS):
            where = error.filename or home
            return str(state_folder_error(error, where))
        text = " ".join(str(error).split()).split(" [SQL:", 1)[0]  # SQLAlchemy appends the statement
        for needle in _DISK_MESSAGES:
            if needle in text.lower():
                what = "is not writable" if "readonly" in needle else "is full or failing"
                return f"the state folder ({ENV_HOME}) {what}: {home}: {text[:200]}"
        error = error.__cause__ or error.__context__
    return None


def name_state_folder(cause: str | None, home: Path | str) -> str | None:
    """A run's cause that is really the state folder filling up (SQLite or DuckDB failing to write
    under FINANCE_RECON_HOME) said as such; other causes, and a full report store, unchanged."""
    if not cause or ENV_HOME in cause:
        return cause
    text = cause.lower()
    if "report" in text or "cannot write s3://" in text:
        return cause  # the store is named by its own message
    if any(needle in text for needle in _DISK_MESSAGES):
        return f"the state folder ({ENV_HOME}) is full or failing: {home}: {cause}"
    return cause
