"""The reconciliation rules (contracts §2) as a dbt project, exposed to Dagster through dagster-dbt."""
