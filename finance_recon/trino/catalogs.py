"""Trino's catalogs, rendered from the settings through one template (deploy/trino/catalog.properties.j2).

Three catalogs, the same for the local server (`make services`), the compose stack (`deploy/trino/`)
and the tests (which create their own at run time with `CREATE CATALOG`, the server running with
`catalog.management=dynamic`):

- the orders source, `mariadb` (MariaDB ≥ 10.10; `mysql` for MySQL): every database is a schema;
- the payments source, `postgresql`: bound to one PostgreSQL database;
- `iceberg`: the warehouse. Iceberg's JDBC catalog keeps its table pointers in a PostgreSQL database
  of its own; the data files live in a local folder, or behind the S3 API when an endpoint is given.
  Trino never creates the JDBC catalog's own tables: `ensure_jdbc_catalog_tables` does.

Secrets never enter a rendered file: a password is written as Trino's `${ENV:VARIABLE}` reference,
resolved by the server from its own environment.

    python -m finance_recon.trino.catalogs render --out DIR [--compose]
    python -m finance_recon.trino.catalogs ensure-jdbc-catalog
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from finance_recon.settings import PROJECT_ROOT, Settings, load_settings

TEMPLATE = PROJECT_ROOT / "deploy" / "trino" / "catalog.properties.j2"
COMPOSE_CATALOG_DIR = PROJECT_ROOT / "deploy" / "trino" / "etc" / "catalog"

# Iceberg's JdbcCatalog schema (V1: with `iceberg_type`, which Trino ≥ 453 reads and writes so that
# the catalog also holds views). Column sizes are Iceberg's own.
JDBC_CATALOG_DDL = (
    """CREATE TABLE IF NOT EXISTS iceberg_tables (
        catalog_name VARCHAR(255) NOT NULL,
        table_namespace VARCHAR(255) NOT NULL,
        table_name VARCHAR(255) NOT NULL,
        metadata_location VARCHAR(1000),
        previous_metadata_location VARCHAR(1000),
        iceberg_type VARCHAR(5),
        PRIMARY KEY (catalog_name, table_namespace, table_name))""",
    """CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
        catalog_name VARCHAR(255) NOT NULL,
        namespace VARCHAR(255) NOT NULL,
        property_key VARCHAR(255),
        property_value VARCHAR(1000),
        PRIMARY KEY (catalog_name, namespace, property_key))""",
)


@dataclass(frozen=True)
class Server:
    """Where a JDBC connector connects; `password` is a `${ENV:…}` reference or empty, never a value."""

    host: str
    port: int
    user: str
    password: str = ""
    database: str | None = None


@dataclass(frozen=True)
class Catalog:
    name: str
    purpose: str
    properties: dict[str, str]

    def render(self) -> str:
        from jinja2 import Template

        template = Template(TEMPLATE.read_text(), keep_trailing_newline=True)
        return template.render(name=self.name, purpose=self.purpose, properties=self.properties)

    def create_sql(self, name: str | None = None) -> str:
        """`CREATE CATALOG` for a server with dynamic catalog management (tests: their own databases)."""
        props = {k: v for k, v in self.properties.items() if k != "connector.name"}
        body = ", ".join(f'"{k}" = {_sql_string(v)}' for k, v in props.items())
        return f"CREATE CATALOG {name or self.name} USING {self.properties['connector.name']} WITH ({body})"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _credentials(server: Server) -> dict[str, str]:
    props = {"connection-user": server.user}
    if server.password:
        props["connection-password"] = server.password
    return props


def orders_catalog(server: Server, connector: str = "mariadb") -> Catalog:
    scheme = "mariadb" if connector == "mariadb" else "mysql"
    return Catalog(
        connector,
        f"the orders source ({'MariaDB' if connector == 'mariadb' else 'MySQL'}; its databases are schemas)",
        {"connector.name": connector, "connection-url": f"jdbc:{scheme}://{server.host}:{server.port}"}
        | _credentials(server),
    )


def payments_catalog(server: Server, name: str = "postgresql") -> Catalog:
    return Catalog(
        name,
        f"the payments source (PostgreSQL database {server.database})",
        {
            "connector.name": "postgresql",
            "connection-url": f"jdbc:postgresql://{server.host}:{server.port}/{server.database}",
        }
        | _credentials(server),
    )


@dataclass(frozen=True)
class S3:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def iceberg_catalog(
    jdbc: Server,
    warehouse: str,
    *,
    name: str = "iceberg",
    local_root: Path | None = None,
    s3: S3 | None = None,
) -> Catalog:
    """`warehouse`: `local` (files under `local_root`, as `file://` paths) or `s3://bucket/…` (then `s3`
    says where). Local files go through Trino's Hadoop file system, whose `file://` locations the
    platform's own Iceberg writer (PyIceberg, finance_recon/trino/iceberg.py) reads and writes too;
    Trino's native local file system would write `local://` locations no other Iceberg client knows."""
    props = {
        "connector.name": "iceberg",
        "iceberg.catalog.type": "jdbc",
        "iceberg.jdbc-catalog.catalog-name": name,
        "iceberg.jdbc-catalog.driver-class": "org.postgresql.Driver",
        "iceberg.jdbc-catalog.connection-url": f"jdbc:postgresql://{jdbc.host}:{jdbc.port}/{jdbc.database}",
        "iceberg.jdbc-catalog.connection-user": jdbc.user,
    }
    if jdbc.password:
        props["iceberg.jdbc-catalog.connection-password"] = jdbc.password
    if warehouse.startswith("s3://"):
        if s3 is None:
            raise ValueError(f"the Iceberg warehouse {warehouse} is on S3 but no S3 endpoint is configured")
        props["iceberg.jdbc-catalog.default-warehouse-dir"] = warehouse
    else:
        if local_root is None:
            raise ValueError("the Iceberg warehouse is local but no local folder is given")
        props["iceberg.jdbc-catalog.default-warehouse-dir"] = f"file://{local_root}"
    # Parquet, Iceberg v2 tables (row-level deletes for MERGE/DELETE).
    props["iceberg.file-format"] = "PARQUET"
    props["iceberg.format-version"] = "2"
    if s3 is not None and warehouse.startswith("s3://"):
        props |= {
            "fs.native-s3.enabled": "true",
            "s3.endpoint": s3.endpoint,
            "s3.region": s3.region,
            "s3.path-style-access": "true",
            "s3.aws-access-key": s3.access_key,
            "s3.aws-secret-key": s3.secret_key,
        }
    else:
        props["fs.hadoop.enabled"] = "true"
    return Catalog(name, "the warehouse: Iceberg tables, JDBC catalog in PostgreSQL", props)


# ------------------------------------------------------------------------------------- from settings


def _server(url: str, default: Server) -> Server:
    parsed = make_url(url)
    return Server(
        host=parsed.host or default.host,
        port=parsed.port or default.port,
        user=parsed.username or default.user,
        database=parsed.database or default.database,
    )


LOCAL_MARIADB = Server("127.0.0.1", 3306, "root")
LOCAL_POSTGRES = Server("127.0.0.1", 5432, "postgres", database="postgres")


def iceberg_catalog_server(settings: Settings) -> Server:
    return _server(settings.iceberg_catalog_url, LOCAL_POSTGRES)


def local_catalogs(settings: Settings, local_root: Path) -> list[Catalog]:
    """The local server's catalogs: the configured sources when they are servers, else the loopback
    servers `make services` starts; passwords are not supported here (a local server trusts)."""
    orders = settings.orders_url if settings.orders_url.startswith("mysql") else "mysql://root@127.0.0.1:3306"
    payments = settings.payments_url if settings.payments_url.startswith("postgres") else ""
    return [
        orders_catalog(_server(orders, LOCAL_MARIADB)),
        payments_catalog(_server(payments, LOCAL_POSTGRES) if payments else LOCAL_POSTGRES),
        iceberg_catalog(iceberg_catalog_server(settings), settings.iceberg_warehouse, local_root=local_root),
    ]


def compose_catalogs() -> list[Catalog]:
    """The compose stack's catalogs (docker-compose.yml): MySQL 8 for orders, the stack's PostgreSQL
    for payments and for the JDBC catalog, MinIO for the data files; secrets from the container."""
    pg_user, pg_password = "${ENV:POSTGRES_USER}", "${ENV:POSTGRES_PASSWORD}"
    return [
        orders_catalog(Server("mysql", 3306, "${ENV:MYSQL_USER}", "${ENV:MYSQL_PASSWORD}"), "mysql"),
        payments_catalog(Server("postgres", 5432, pg_user, pg_password, "${ENV:POSTGRES_DB}")),
        iceberg_catalog(
            Server("postgres", 5432, pg_user, pg_password, "${ENV:ICEBERG_CATALOG_DB}"),
            "s3://warehouse/",
            s3=S3("http://minio:9000", "${ENV:S3_ACCESS_KEY_ID}", "${ENV:S3_SECRET_ACCESS_KEY}"),
        ),
    ]


def write_catalogs(catalogs: list[Catalog], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for catalog in catalogs:
        path = out / f"{catalog.name}.properties"
        path.write_text(catalog.render())
        written.append(path)
    return written


def ensure_jdbc_catalog_tables(server: Server) -> None:
    """Create the JDBC catalog's database and tables if missing (idempotent)."""
    import psycopg2

    def run(database: str, *statements: str, unless: str | None = None) -> None:
        conn = psycopg2.connect(host=server.host, port=server.port, user=server.user, dbname=database)
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cur:
                if unless:
                    cur.execute(unless)
                    if cur.fetchone() is not None:
                        return
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    database = server.database or "postgres"
    exists = f"SELECT 1 FROM pg_database WHERE datname = '{database}'"
    run("postgres", f'CREATE DATABASE "{database}"', unless=exists)
    run(database, *JDBC_CATALOG_DDL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finance_recon.trino.catalogs")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="write one <catalog>.properties per catalog")
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--compose", action="store_true", help="the compose stack's catalogs")
    render.add_argument("--local-root", type=Path, help="the folder behind local:// (local server)")
    sub.add_parser("ensure-jdbc-catalog", help="create the Iceberg JDBC catalog's database and tables")
    args = parser.parse_args(argv)
    if args.command == "render":
        if args.compose:
            catalogs = compose_catalogs()
        else:
            catalogs = local_catalogs(load_settings(), args.local_root or Path.cwd())
        for path in write_catalogs(catalogs, args.out):
            print(path)
    else:
        ensure_jdbc_catalog_tables(iceberg_catalog_server(load_settings()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
