"""Source URLs: SQLAlchemy-style strings, parsed once, always shown with the password hidden.

duckdb:////abs/path/oltp.duckdb          embedded demo source (tables `orders` / `payments`)
mysql+pymysql://user:pw@host:3306/oltp   MariaDB / MySQL (the `+driver` part is informative)
postgresql://user:pw@host:5432/db        PostgreSQL, table `public.payments` (`?schema=` overrides)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url

from .errors import ContractViolationError

DIALECTS = ("duckdb", "mysql", "postgresql")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
AMBIGUOUS_CREDENTIALS = (
    "source URL {scheme}://… has credentials that cannot be parsed unambiguously: percent-encode "
    "'@', ':', '/', '?' and '#' in the user name and password (%40, %3A, %2F, %3F, %23)"
)


def ambiguous_credentials(raw: str) -> str | None:
    """A message (without any part of the URL after its scheme) when a network URL's user name or
    password holds an unescaped '@', ':', '/', '?' or '#', which would move part of the secret into
    the host, port or path; None when the URL is unambiguous. Percent-encoded characters are fine."""
    match = _SCHEME.match(raw)
    if not match or match.group(1).split("+")[0].lower() == "duckdb":
        return None  # a file path, no credentials
    rest = raw[match.end() :]
    authority_end = next((i for i, ch in enumerate(rest) if ch in "/?#"), len(rest))
    authority, after = rest[:authority_end], rest[authority_end:]
    userinfo = authority.rpartition("@")[0] if "@" in authority else None
    ambiguous = (
        authority.count("@") > 1  # an '@' in the password
        or "@" in after  # a '/', '?' or '#' in the password ends the host early
        or (userinfo is not None and userinfo.count(":") > 1)  # a ':' in the password
    )
    return AMBIGUOUS_CREDENTIALS.format(scheme=match.group(1)) if ambiguous else None


@dataclass(frozen=True)
class SourceUrl:
    url: URL

    @classmethod
    def parse(cls, raw: str) -> SourceUrl:
        problem = ambiguous_credentials(raw.strip())
        if problem:
            raise ContractViolationError(problem)
        try:
            url = make_url(raw.strip())
        except Exception:  # the raw string may hold a password: never echo it
            raise ContractViolationError(
                "source URL is not a valid SQLAlchemy URL (expected duckdb:///path, "
                "mysql+pymysql://user@host:port/db or postgresql://user@host:port/db)"
            ) from None
        dialect = url.get_backend_name()
        if dialect in ("mariadb",):
            dialect = "mysql"
        if dialect in ("postgres",):
            dialect = "postgresql"
        if dialect not in DIALECTS:
            raise ContractViolationError(
                f"source URL {url.render_as_string(hide_password=True)} has unsupported dialect {dialect!r}; "
                f"expected one of {', '.join(DIALECTS)}"
            )
        return cls(url)

    @property
    def dialect(self) -> str:
        name = self.url.get_backend_name()
        return {"mariadb": "mysql", "postgres": "postgresql"}.get(name, name)

    @property
    def redacted(self) -> str:
        """The URL as it may appear in logs, metadata and errors."""
        return self.url.render_as_string(hide_password=True)

    @property
    def password(self) -> str | None:
        return self.url.password

    @property
    def database(self) -> str | None:
        return self.url.database

    @property
    def schema(self) -> str | None:
        return self.url.query.get("schema") if self.url.query else None

    def __str__(self) -> str:  # never the secret
        return self.redacted

    def __repr__(self) -> str:
        return f"SourceUrl({self.redacted!r})"


def redact(raw: str) -> str:
    """Best-effort redaction of a raw URL string (for messages about URLs that failed to parse)."""
    if ambiguous_credentials(raw.strip()):
        return "<source URL with ambiguous credentials>"
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable source URL>"
