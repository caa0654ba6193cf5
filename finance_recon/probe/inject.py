"""Write a cycle's synthetic rows into one source, through the dialects the platform already speaks.

Only SELECT and INSERT are needed on the contract table (no UPDATE, no DELETE, no DDL): rows whose
key already exists are left alone, so a retried step writes nothing twice. Timestamps keep the
incremental extraction and the source-lag signal honest:

- `updated_at` = the source's newest `updated_at` + 1 µs (now, for an empty source). Strictly newer
  than every landed row, so the extraction picks it up whatever the look-back; yet it moves the
  newest `updated_at` by one microsecond per cycle only, so a source whose real traffic has stopped
  still shows its lag (the source-lag check, `diagnose`) instead of looking fresh because of the probe;
- `created_at` = min(the run's as_of, updated_at): considered by this very run, never after
  `updated_at` (the contract check), whatever as_of the run was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from finance_recon.contracts import ORDERS, SourceTable
from finance_recon.probe.plan import PROBE_CUSTOMER_ID, PROBE_PROVIDER, ProbeItem
from finance_recon.sources.landing import sql_literal
from finance_recon.sources.urls import SourceUrl
from finance_recon.sources.writable import bind_timestamp, connect


def _qualified(src: SourceUrl, table: SourceTable) -> str:
    if src.dialect == "postgresql":
        return f'"{src.schema or "public"}"."{table.table}"'
    if src.dialect == "mysql":
        return f"`{table.table}`"
    return table.table


def _rows(table: SourceTable, items: Sequence[ProbeItem], created_at: datetime, updated_at: datetime):
    for item in items:
        if table is ORDERS:
            yield (
                item.order_id,
                (
                    item.order_id,
                    PROBE_CUSTOMER_ID,
                    "paid",
                    item.currency,
                    item.order_amount,
                    created_at,
                    updated_at,
                ),
            )
        else:
            yield (
                item.payment_id,
                (
                    item.payment_id,
                    item.order_id,
                    PROBE_PROVIDER,
                    "charge",
                    "succeeded",
                    item.currency,
                    item.payment_amount,
                    created_at,
                    updated_at,
                ),
            )


def _newest_updated_at(cur, src: SourceUrl, name: str) -> datetime | None:
    if src.dialect == "duckdb":
        # epoch microseconds: fetching a TIMESTAMPTZ object would make DuckDB import pandas
        cur.execute(f"SELECT epoch_us(max(updated_at)) FROM {name}")
        (value,) = cur.fetchone()
        return None if value is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
    cur.execute(f"SELECT max(updated_at) FROM {name}")
    (value,) = cur.fetchone()
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def write_probe_rows(
    table: SourceTable, url: str, items: Sequence[ProbeItem], *, as_of: datetime, now: datetime
) -> int:
    """Insert the missing synthetic rows of `items` into `table` at `url`; returns how many were new.

    Raises whatever the driver raises (refused login, no INSERT privilege, …): the caller turns it
    into the probe's one-line warning.
    """
    src = SourceUrl.parse(url)
    name = _qualified(src, table)
    key = table.primary_key
    with connect(src) as conn:
        cur = conn.cursor()
        newest = _newest_updated_at(cur, src, name)
        updated_at = newest + timedelta(microseconds=1) if newest is not None else now
        created_at = min(as_of, updated_at)
        rows = dict(_rows(table, items, created_at, updated_at))
        keys = list(rows)
        cur.execute(f"SELECT {key} FROM {name} WHERE {key} IN ({', '.join(sql_literal(k) for k in keys)})")
        present = {r[0] for r in cur.fetchall()}
        new = [rows[k] for k in keys if k not in present]
        cols = ", ".join(table.column_names)
        for row in new:
            if src.dialect == "duckdb":
                values = ", ".join(sql_literal(v) for v in row)
                cur.execute(f"INSERT INTO {name} ({cols}) VALUES ({values})")
            else:
                bound = [bind_timestamp(v, src.dialect) if isinstance(v, datetime) else v for v in row]
                cur.execute(f"INSERT INTO {name} ({cols}) VALUES ({', '.join(['%s'] * len(row))})", bound)
        conn.commit()
    return len(new)
