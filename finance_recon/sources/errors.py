"""The failure taxonomy of extraction: retryable (the source is away) versus permanent (the data is wrong).

Messages are one line, name the source by its redacted URL and never carry a password.
"""

from __future__ import annotations


class SourceError(Exception):
    """Base class; `str(exc)` is the one-line message shown to operators."""

    retryable = False


class SourceUnavailableError(SourceError):
    """The source cannot be reached (down, restarting, a timeout). How often and how soon it is
    retried depends on why (`reason`, `retry_plan`): a refused connection on this machine will not
    change in a minute, a timeout or a lost connection may."""

    retryable = True

    def __init__(self, message: str, *, reason: str = "unavailable", host: str | None = None):
        super().__init__(message)
        self.reason = reason  # one of REASONS
        self.host = host


# Why a source is unavailable, from the driver's error (`unavailable_reason`).
REFUSED, TIMEOUT, DNS, LOST = "connection refused", "timeout", "host name not resolved", "unavailable"
REASONS = (REFUSED, TIMEOUT, DNS, LOST)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

# The drivers' words (PyMySQL, the mysql/mariadb client, psycopg2, the OS) for each reason.
_REASON_WORDS = (
    (
        DNS,
        (
            "could not translate host name",
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "unknown mysql server host",
            "unknown server host",
            "getaddrinfo failed",
        ),
    ),
    (REFUSED, ("connection refused", "errno 111", "(111)", "can't connect to local")),
    (TIMEOUT, ("timed out", "timeout expired", "timeout", "(110)", "errno 110")),
)


def unavailable_reason(exc: BaseException | str) -> str:
    """The reason (REASONS) a connection failed, from the exception chain and its text."""
    import socket

    seen: BaseException | None = exc if isinstance(exc, BaseException) else None
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return DNS
        if isinstance(seen, ConnectionRefusedError):
            return REFUSED
        if isinstance(seen, TimeoutError | socket.timeout):
            return TIMEOUT
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    for reason, words in _REASON_WORDS:
        if any(word in text for word in words):
            return reason
    return LOST


class RetryPlan:
    """Seconds to wait before each retry (its length is the number of retries)."""

    def __init__(self, delays: tuple[float, ...], why: str):
        self.delays, self.why = delays, why


def retry_plan(reason: str, host: str | None) -> RetryPlan:
    """The retry policy of a failure taxonomy (issue 25):

    - connection refused on this machine: nothing listens on that port; a local server restarting
      is back within seconds, so one retry after 2 s, then the run fails saying so;
    - connection refused by another host: a failover or a restart, 3 retries over ~14 s;
    - timeout: the connect timeout already waited; 2 retries, 10 s then 20 s apart;
    - host name not resolved: a wrong host name, or DNS down; one retry after 5 s;
    - otherwise (a connection lost mid-read, a server restarting): 3 retries, 5, 10, 20 s.
    """
    if reason == REFUSED and (host or "").lower() in LOOPBACK_HOSTS:
        return RetryPlan((2.0,), "refused on this machine: is the server running, on that port?")
    if reason == REFUSED:
        return RetryPlan((2.0, 4.0, 8.0), "refused: the server may be restarting or failing over")
    if reason == TIMEOUT:
        return RetryPlan((10.0, 20.0), "timed out: the network or the server is slow")
    if reason == DNS:
        return RetryPlan((5.0,), "the host name does not resolve: check it")
    return RetryPlan((5.0, 10.0, 20.0), "the connection failed: the server may be restarting")


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
