{#-
  The landing sources on Spark: external Parquet tables over the lake written by the Spark landing
  path (finance_recon/spark/lake.py). A Spark session started by dbt (`session` method) has an
  empty in-memory catalog, so the tables are (re)registered at the start of every dbt invocation:

      on-run-start: ["{{ register_landing_lake() }}"]        (dbt_project.yml)

  or explicitly: `dbt run-operation register_landing_lake --target spark`.
  The lake folder comes from var('landing_lake_dir') or FINANCE_RECON_LAKE_DIR; without one,
  nothing is registered (the sources are expected to exist already). Other engines: a no-op
  (DuckDB reads the lake through views the landing step creates; Trino through its catalog).
-#}

{% macro register_landing_lake() -%}
    {{- return(adapter.dispatch('register_landing_lake', 'finance_recon')()) -}}
{%- endmacro %}

{% macro default__register_landing_lake() -%}
    {#- Not Spark: nothing to register. Returns an empty hook statement. -#}
    select 1
{%- endmacro %}

{% macro spark__register_landing_lake() -%}
    {#- Spark: DROP + CREATE (never CREATE IF NOT EXISTS) so a table left by an earlier call in the
        same session is re-read with the current snapshot's files; dropping an external table
        never deletes its files. REFRESH drops cached file listings. -#}
    {%- set lake_dir = var('landing_lake_dir', env_var('FINANCE_RECON_LAKE_DIR', '')) | string -%}
    {%- set schema = landing_schema() -%}
    {%- if execute and lake_dir | length > 0 -%}
        {%- if "'" in lake_dir -%}
            {{ exceptions.raise_compiler_error("landing_lake_dir must not contain a quote: " ~ lake_dir) }}
        {%- endif -%}
        {% do run_query('create database if not exists ' ~ schema) %}
        {%- for name in ['orders', 'payments'] -%}
            {%- for suffix, folder in [('', 'data'), ('__last_batch', 'batch')] -%}
                {%- set relation = schema ~ '.' ~ name ~ suffix -%}
                {% do run_query('drop table if exists ' ~ relation) %}
                {% do run_query("create table " ~ relation ~ " using parquet location '" ~ lake_dir ~ "/landing/" ~ name ~ "/current/" ~ folder ~ "'") %}
                {% do run_query('refresh table ' ~ relation) %}
            {%- endfor -%}
        {%- endfor -%}
        {{ log("registered landing lake " ~ lake_dir ~ " as " ~ schema ~ ".orders / " ~ schema ~ ".payments", info=True) }}
    {%- endif -%}
    select 1
{%- endmacro %}
