"""What the report step needs of the Trino warehouse, copied into a scratch DuckDB file.

The report (finance_recon/report/) compares this run's breaks with the previous run's Parquet file and
streams them to CSV/Parquet inside a DuckDB connection. On Trino the marts stay in Iceberg; the
report's inputs are small by construction — the summary tables, the watermarks, the *breaks* (not
every item) and the items of breaks resolved since the previous run — so only those cross into a
scratch file laid out as the embedded warehouse is (`main.rpt_*`, `main.fct_reconciliation_items`,
`landing._watermarks`), and the same report code runs over it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from finance_recon.contracts import SOURCE_TABLES
from finance_recon.names import CATEGORY_SUMMARY_MODEL, CURRENCY_TOTALS_MODEL, ITEMS_MODEL, SUMMARY_MODEL

from .client import TrinoSession, literal, qualified
from .resources import TrinoWarehouseResource

_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
# The IN lists of resolved break ids are sent in chunks of this many ids.
_ID_CHUNK = 2000


def arrow_type(trino_type: str) -> pa.DataType:
    t = trino_type.lower()
    if m := _DECIMAL.fullmatch(t):
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    if t.startswith("timestamp") and "with time zone" in t:
        return pa.timestamp("us", tz="UTC")
    if t.startswith("timestamp"):
        return pa.timestamp("us")
    if t.startswith(("varchar", "char")):
        return pa.string()
    if t.startswith("array(varchar"):
        return pa.list_(pa.string())
    if t.startswith("array(bigint"):
        return pa.list_(pa.int64())
    return {
        "bigint": pa.int64(),
        "integer": pa.int32(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "double": pa.float64(),
    }[t]  # float ok: no money column is a double (the marts are DECIMAL)


def _schema(conn: TrinoSession, relation: str) -> pa.Schema:
    return pa.schema(
        [pa.field(name, arrow_type(kind)) for name, kind, *_ in conn.execute(f"DESCRIBE {relation}")]
    )


def _copy(
    conn: TrinoSession,
    duck,
    relation: str,
    target: str,
    where: str = "",
    *,
    append: bool = False,
    columns: list[str] | None = None,
) -> None:
    schema = _schema(conn, relation)
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    table = conn.fetch_arrow(f"SELECT {', '.join(schema.names)} FROM {relation}{where}", schema)
    duck.register("_mirror", table)
    try:
        if append:
            duck.execute(f"INSERT INTO {target} SELECT * FROM _mirror")
        else:
            duck.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM _mirror")
    finally:
        duck.unregister("_mirror")


def mirror_marts(warehouse: TrinoWarehouseResource, path: Path, real_rows: Callable[[str], str]) -> None:
    """The summaries, the sources' newest real rows (`real_rows(table)`: a predicate leaving out the
    correctness prober's rows) and the current breaks, into the DuckDB file `path`."""
    from finance_recon.warehouse import LANDING_SCHEMA, connect

    def model(name: str) -> str:
        return qualified(warehouse.catalog, warehouse.models_schema, name)

    duck = connect(path)
    try:
        duck.execute(f"CREATE SCHEMA IF NOT EXISTS {LANDING_SCHEMA}")
        with warehouse.session("reading the marts for the report") as conn:
            for node in (SUMMARY_MODEL, CATEGORY_SUMMARY_MODEL, CURRENCY_TOTALS_MODEL):
                _copy(conn, duck, model(node.path[-1]), f"main.{node.path[-1]}")
            # The sources' freshness: each landing table's newest real (not probe) row, with the
            # columns the report's own query filters on.
            for table, key in ((source.asset_name, source.primary_key) for source in SOURCE_TABLES):
                _copy(
                    conn,
                    duck,
                    qualified(warehouse.catalog, warehouse.landing_schema, table),
                    f"{LANDING_SCHEMA}.{table}",
                    f" WHERE {real_rows(table)} ORDER BY updated_at DESC LIMIT 1",
                    columns=[key, "updated_at"],
                )
            _copy(conn, duck, model(ITEMS_MODEL.path[-1]), f"main.{ITEMS_MODEL.path[-1]}", " WHERE is_break")
    finally:
        duck.close()


def mirror_resolved_items(
    warehouse: TrinoWarehouseResource, path: Path, previous_breaks: Path | None
) -> None:
    """The items of the previous run's open breaks that are no break now (resolved: their item tells
    what they became), appended to the mirrored items."""
    if previous_breaks is None:
        return
    from finance_recon.warehouse import connect

    items = f"main.{ITEMS_MODEL.path[-1]}"
    duck = connect(path)
    try:
        literal_path = str(previous_breaks).replace("'", "''")
        ids = [
            row[0]
            for row in duck.execute(
                f"SELECT p.break_id FROM read_parquet('{literal_path}') AS p WHERE p.lifecycle <> 'resolved' "
                f"AND p.break_id NOT IN (SELECT break_id FROM {items})"
            ).fetchall()
        ]
        if not ids:
            return
        relation = qualified(warehouse.catalog, warehouse.models_schema, ITEMS_MODEL.path[-1])
        with warehouse.session("reading the items of resolved breaks") as conn:
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ", ".join(literal(i) for i in ids[start : start + _ID_CHUNK])
                _copy(conn, duck, relation, items, f" WHERE break_id IN ({chunk})", append=True)
    finally:
        duck.close()
