#!/bin/bash
# Runs once, on the first start of the compose PostgreSQL (docker-entrypoint-initdb.d).
# POSTGRES_DB (payments) is created by the image; this adds Dagster's run/event/schedule storage and
# the Iceberg JDBC catalog, both owned by POSTGRES_USER. Names come from the environment (.env).
set -euo pipefail

psql_admin() { psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" "$@"; }

for db in "${DAGSTER_PG_DB:-dagster}" "${ICEBERG_CATALOG_DB:-iceberg_catalog}"; do
  psql_admin --dbname "$POSTGRES_DB" -tc "SELECT 1 FROM pg_database WHERE datname = '${db}'" | grep -q 1 \
    || psql_admin --dbname "$POSTGRES_DB" -c "CREATE DATABASE \"${db}\""
done

# Trino's Iceberg JDBC catalog expects its two tables to exist (it does not create them).
psql_admin --dbname "${ICEBERG_CATALOG_DB:-iceberg_catalog}" <<'SQL'
CREATE TABLE IF NOT EXISTS iceberg_tables (
  catalog_name VARCHAR(255) NOT NULL,
  table_namespace VARCHAR(255) NOT NULL,
  table_name VARCHAR(255) NOT NULL,
  metadata_location VARCHAR(1000),
  previous_metadata_location VARCHAR(1000),
  iceberg_type VARCHAR(5),
  PRIMARY KEY (catalog_name, table_namespace, table_name)
);
CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
  catalog_name VARCHAR(255) NOT NULL,
  namespace VARCHAR(255) NOT NULL,
  property_key VARCHAR(255),
  property_value VARCHAR(1000),
  PRIMARY KEY (catalog_name, namespace, property_key)
);
SQL
