"""The reconciliation rules (contracts §2) as a dbt project, exposed to Dagster through dagster-dbt.

dagster-dbt is used through its public API only: `@dbt_assets` over the prepared manifest and
`DbtCliResource`, which runs `dbt build` in a subprocess. Both cost what dagster-dbt costs with
dbt-core installed: importing dagster-dbt imports dbt-core's adapters and contracts in every process
that loads the definitions, and each `DbtCliResource.cli` call asks `dbt --version` in a subprocess
and opens a dbt adapter in the Dagster process before `dbt build` starts. Those costs are measured
in docs/benchmarks.md ("Framework internals removed, and the one kept"); they used to be avoided by
hiding dbt from dagster-dbt's import and overriding dagster-dbt's private methods.
"""
