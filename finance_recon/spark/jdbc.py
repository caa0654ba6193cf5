"""Source URLs as Spark JDBC reads: driver, connection properties, literals and partition predicates.

Parallel reads are explicit predicates (one Spark partition each), never Spark's
`partitionColumn`/`lowerBound`/`upperBound`, so that the boundaries are half-open and exact:

- a table with an integer primary key (`orders`): primary-key ranges — each partition is an index
  range scan;
- any other (`payments`, VARCHAR key, not range-splittable): `updated_at` windows (indexed).

The first range is open below and the last open above, so a row inserted after the bounds were
taken is still read. Every predicate carries the incremental filter `updated_at > since`.
Partitions are read in separate source transactions: a row changed mid-read may be read twice
(the newest version wins in the upsert) or, if it moves into a window already read, be caught by
the next run's look-back window — the same guarantee as the embedded path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from finance_recon.contracts import SourceTable
from finance_recon.sources.errors import ContractViolationError
from finance_recon.sources.readers import dialect
from finance_recon.sources.urls import SourceUrl

from .config import MYSQL_DRIVER, POSTGRES_DRIVER


def split_column(table: SourceTable) -> str:
    """How a contract table is split into parallel reads: its primary key when that is an integer."""
    key = table.column(table.primary_key)
    return key.name if pa.types.is_integer(key.arrow_type) else "updated_at"


@dataclass(frozen=True)
class JdbcSource:
    source: SourceUrl
    url: str  # no credentials in it: they travel in `properties`
    driver: str
    fetch_size: int = 10_000

    @classmethod
    def from_url(cls, source: SourceUrl, *, fetch_size: int = 10_000) -> JdbcSource:
        u = source.url
        if source.dialect == "mysql":
            url = f"jdbc:mysql://{u.host or '127.0.0.1'}:{u.port or 3306}/{u.database}"
            return cls(source, url, MYSQL_DRIVER, fetch_size)
        if source.dialect == "postgresql":
            url = f"jdbc:postgresql://{u.host or '127.0.0.1'}:{u.port or 5432}/{u.database or 'postgres'}"
            return cls(source, url, POSTGRES_DRIVER, fetch_size)
        raise ContractViolationError(
            f"source {source.redacted}: the spark landing engine reads MySQL/MariaDB or PostgreSQL over JDBC, "
            f"not {source.dialect} (use FINANCE_RECON_LANDING_ENGINE=embedded for DuckDB sources)"
        )

    @property
    def dialect(self) -> str:
        return self.source.dialect

    def properties(self) -> dict[str, str]:
        u = self.source.url
        props = {
            "driver": self.driver,
            "user": u.username or ("root" if self.dialect == "mysql" else "postgres"),
            "password": u.password or "",
            "fetchsize": str(self.fetch_size),
        }
        if self.dialect == "mysql":
            # Naive DATETIME values are UTC (contracts §1); TIMESTAMP columns too, in a UTC session.
            props["sessionInitStatement"] = "SET time_zone = '+00:00'"
        else:
            props["sessionInitStatement"] = "SET TIME ZONE 'UTC'"
        return props

    def quote(self, name: str) -> str:
        return dialect(self.source).quote(name)

    def relation(self, table: SourceTable) -> str:
        return dialect(self.source).relation(self.source, table)

    def ts_literal(self, ts: datetime) -> str:
        text = ts.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        if self.dialect == "mysql":
            return f"'{text}'"  # DATETIME(6), naive UTC
        return f"TIMESTAMP WITH TIME ZONE '{text}+00:00'"

    def since_filter(self, since: datetime | None) -> str:
        return "1=1" if since is None else f"{self.quote('updated_at')} > {self.ts_literal(since)}"

    def bounds_query(self, table: SourceTable, since: datetime | None) -> str:
        col = self.quote(split_column(table))
        return (
            f"SELECT count(*) AS n, min({col}) AS lo, max({col}) AS hi "
            f"FROM {self.relation(table)} WHERE {self.since_filter(since)}"
        )

    def predicates(self, table: SourceTable, since: datetime | None, lo, hi, n: int) -> list[str]:
        """`n` disjoint predicates covering every row with updated_at > since (lo/hi: split-column bounds)."""
        base = self.since_filter(since)
        if n <= 1 or lo is None or hi is None or lo == hi:
            return [base]
        col = self.quote(split_column(table))
        if isinstance(lo, datetime):
            lo, hi = (
                lo.astimezone(UTC) if lo.tzinfo else lo.replace(tzinfo=UTC),
                (hi.astimezone(UTC) if hi.tzinfo else hi.replace(tzinfo=UTC)),
            )
            step = (hi - lo) / n
            cuts = [lo + step * i for i in range(1, n)]
            cuts = sorted(set(cuts)) if step > timedelta(0) else []
            lits = [self.ts_literal(c) for c in cuts]
        else:
            lo, hi = int(lo), int(hi)
            cuts = sorted({lo + (hi - lo) * i // n for i in range(1, n)} - {lo})
            lits = [str(c) for c in cuts]
        if not lits:
            return [base]
        preds = [f"{base} AND {col} < {lits[0]}"]
        preds += [f"{base} AND {col} >= {a} AND {col} < {b}" for a, b in zip(lits, lits[1:], strict=False)]
        preds.append(f"{base} AND {col} >= {lits[-1]}")
        return preds
