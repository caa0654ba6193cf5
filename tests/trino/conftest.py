"""A Trino deployment of its own per test module: a unique schema (and its `_landing`/`_control`
schemas) on the shared Trino 476 of `make services`, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.services import require_trino, trino_connect, trino_query


def drop_trino_deployment(schema: str) -> None:
    conn = trino_connect()
    try:
        for name in (schema, f"{schema}_landing", f"{schema}_control"):
            if [name] in trino_query(conn, "SHOW SCHEMAS FROM iceberg"):
                for (table,) in trino_query(conn, f"SHOW TABLES FROM iceberg.{name}"):
                    kind = trino_query(
                        conn,
                        f"SELECT table_type FROM iceberg.information_schema.tables "
                        f"WHERE table_schema = '{name}' AND table_name = '{table}'",
                    )[0][0]
                    trino_query(conn, f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} iceberg.{name}.{table}")
                trino_query(conn, f"DROP SCHEMA iceberg.{name}")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def trino_schema() -> Iterator[str]:
    """A schema name no other test uses; everything the deployment wrote is dropped afterwards."""
    require_trino()
    schema = f"t_{uuid.uuid4().hex[:10]}"
    yield schema
    drop_trino_deployment(schema)
