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
