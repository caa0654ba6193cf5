{#-
  The record of the state's builds, in the platform's control schema (control_schema()):
    state_builds     one row per build: its run, its as_of, and the last batch of the change log it
                     consumed (the next build's changes come after it). The newest row's as_of is
                     the cut-off the state is current at (state_as_of(), macros/run_parameters.sql);
                     a platform run that finds nothing dirty appends a row without running the
                     models, carrying the state forward to its as_of
                     (finance_recon/reconciliation/carry_forward.py);
    verified_builds  one row per platform run whose `dbt build` passed every data test (or that
                     carried a verified state forward), written by the platform afterwards with the
                     fingerprint of the dbt project that built it (finance_recon/reconciliation/
                     parameters.py). The row tests of the state and the items look only at the rows
                     classified since (dbt_project.yml, var classified_since_last_verified_build).
  The platform creates both before its first run; a pre-hook creates them where it has not (a plain
  `dbt build` on a warehouse the platform never ran), so that every build is recorded the same way,
  whatever its parameters. A post-hook records the build and then prunes the consumed part of the
  change log; on DuckDB inside the merge's transaction, so a failed build consumes nothing.
-#}

{% macro change_log_relation() -%}
    {#- landing._changed_keys: one row per key a landed batch touched (finance_recon/sources/landing.py);
        none when landing was not written by the platform's extraction. Not a dbt source: it is
        the landing step's bookkeeping, read only here. -#}
    {{- return(adapter.get_relation(target.database, landing_schema(), '_changed_keys')) -}}
{%- endmacro %}

{% macro last_state_build(builds) -%}
    select as_of, consumed_change_batch
    from {{ builds }}
    order by seq desc, built_at desc
    limit 1
{%- endmacro %}


{% macro create_state_bookkeeping() -%}
    {#- Pre-hook of the state. Returns no statement: the DDL runs here, one statement at a time (Trino
        takes one per request). -#}
    {%- if not (execute and state_is_maintained()) -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set ts = timestamp_with_time_zone() -%}
    {% do adapter.create_schema(api.Relation.create(database=target.database, schema=control_schema())) %}
    {% do run_query('create table if not exists ' ~ control_relation('state_builds')
                    ~ ' (seq bigint, run_id varchar, as_of ' ~ ts ~ ', consumed_change_batch bigint, built_at ' ~ ts ~ ')') %}
    {% do run_query('create table if not exists ' ~ control_relation('verified_builds')
                    ~ ' (seq bigint, run_id varchar, verified_at ' ~ ts ~ ', project_fingerprint varchar)') %}
    {{- return('') -}}
{%- endmacro %}

{% macro record_state_build() -%}
    {#- Post-hook of the state: this build, its as_of, and the newest batch of the change log, all of
        which it consumed. -#}
    {%- if not (execute and state_is_maintained()) -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set change_log = change_log_relation() -%}
insert into {{ control_relation('state_builds') }} (seq, run_id, as_of, consumed_change_batch, built_at)
select
    {{ run_seq() }},
    {{ run_id() }},
    {{ as_of() }},
    {% if change_log is not none %}(select coalesce(max(change_batch), 0) from {{ change_log }}){% else %}0{% endif %},
    now()
{%- endmacro %}

{% macro prune_change_log() -%}
    {#- Post-hook of the state, after record_state_build: what it consumed is not needed again. -#}
    {%- set change_log = change_log_relation() if execute and state_is_maintained() else none -%}
    {%- if change_log is none -%}
        {{- return('') -}}
    {%- endif -%}
delete from {{ change_log }}
where change_batch <= (select max(consumed_change_batch) from {{ control_relation('state_builds') }})
{%- endmacro %}
