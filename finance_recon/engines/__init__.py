"""The warehouse engines: one `warehouse` resource per dbt target, each implementing `Warehouse`
(finance_recon/warehouse.py), the operations the assets, checks and CLI ask of a warehouse.

- `embedded.EmbeddedWarehouse`: the DuckDB file (the default target, `duckdb`);
- `trino.TrinoWarehouse`: Iceberg tables through Trino (`trino`; docs/engines.md).

`finance_recon/resources.py` picks one from FINANCE_RECON_WAREHOUSE_TARGET; nothing else asks which
engine it holds. Adding an engine: a class here implementing `Warehouse`, a dbt target in
dbt_project/profiles.yml, dispatched macros where its SQL differs, and one line in
`resources.warehouse_resource` (docs/architecture.md, "Adding an engine").
"""
