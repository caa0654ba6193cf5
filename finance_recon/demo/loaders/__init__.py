"""Writing the demo and benchmark source tables, one module per engine: the contract DDL, the
database itself where absent, and a bulk loader.

Each module offers `CONNECT_OPTIONS` (what its writable connection needs beyond the default, see
`finance_recon.sources.writable.connect`), `create_database(source)`, `ddl(table)` and
`bulk_load(conn, table, data, bar, *, rebuild_indexes, chunk_rows)`. `finance_recon.demo.seed`
chooses and orders them. This is seeding tooling: the product only reads these tables.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType

import pyarrow as pa

from finance_recon.sources.urls import SourceUrl

_MODULES = {"duckdb": "duckdb", "postgresql": "postgres", "mysql": "mysql"}


def loader(source: SourceUrl) -> ModuleType:
    """The loader module of the URL's engine."""
    if source.dialect not in _MODULES:
        raise ValueError(f"no loader for {source.redacted}")
    return importlib.import_module(f"{__name__}.{_MODULES[source.dialect]}")


def chunks(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    """`table` in slices of at most `rows` rows (the bulk loaders' unit)."""
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)
