"""The failure taxonomy of extraction: retryable (the source is away) versus permanent (the data is wrong).

Messages are one line, name the source by its redacted URL and never carry a password.
"""

from __future__ import annotations


class SourceError(Exception):
    """Base class; `str(exc)` is the one-line message shown to operators."""

    retryable = False


class SourceUnavailableError(SourceError):
    """The source cannot be reached (down, restarting, a timeout): worth retrying with backoff."""

    retryable = True


class SourceRejectedError(SourceError):
    """The source answered and refused: wrong password, unknown user or database. Retrying cannot
    help; the run fails at once and says what to fix."""

    retryable = False


# What a server says when it is up but refuses these credentials or this database (PostgreSQL's
# messages, MySQL/MariaDB's error codes): permanent, not worth a retry.
POSTGRES_REJECTIONS = (
    "password authentication failed",
    "no password supplied",
    "does not exist",  # role "x" / database "x" does not exist
    "no pg_hba.conf entry",
    "permission denied for database",
)
MYSQL_REJECTION_CODES = (1044, 1045, 1049, 1698)  # db access denied, access denied, unknown db, no password


class ContractViolationError(SourceError):
    """The source does not match contracts §1 (missing column, changed type): retrying cannot help."""

    retryable = False


class WarehouseBusyError(SourceError):
    """The warehouse file stayed locked by another writer for longer than we were willing to wait."""

    retryable = True


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The first meaningful line of a driver exception, for embedding in our own message."""
    text = " ".join(str(exc).split())
    if not text:
        text = type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
