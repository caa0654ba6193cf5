"""Sources: read the upstream OLTP tables (contracts §1) and land them in the warehouse.

- `urls`: parse and redact source URLs (`duckdb:///…`, `mysql+pymysql://…`, `postgresql://…`).
- `readers`: one streaming reader per engine, yielding contract-typed Arrow batches.
- `writable`: a writable connection to a source, for the correctness prober's inserts (and the seeder).
- `landing`: the warehouse side — landing tables, watermarks, the per-run batch, one transaction.
- `extract`: incremental / full-refresh extraction of one table, the unit the assets call.
- `resources`, `assets`: the Dagster face (`SourceDatabaseResource`, assets `orders` and `payments`).
"""
