{#-
  The incremental reconciliation state (models/intermediate/int_reconciliation_items.sql): the items
  are kept between runs, and a build merges into them, re-classifying only the items whose inputs
  changed. Everything that takes lives in this folder; the rules stay in the model:

    plan.sql         how a build goes (every item, or only the dirty ones), decided before it runs
    dirty_keys.sql   which orders and payments are dirty
    tombstones.sql   the stored items a build no longer finds, and how they are deleted
    bookkeeping.sql  the record of every build (control.state_builds) and the change log it consumed

  A build by changes gives the same rows as a full one: tests/reconciliation/
  test_incremental_equals_full.py and tests/trino/test_incremental_equals_full_on_trino.py prove it.
-#}

{% macro reconciliation_state_materialization() -%}
    {#- How an engine keeps the state (the model's materialization). -#}
    {{- return(adapter.dispatch('reconciliation_state_materialization', 'finance_recon')()) -}}
{%- endmacro %}

{% macro default__reconciliation_state_materialization() -%}
    {#- DuckDB and Trino (Iceberg): incremental, merged by item_key. -#}
    {{- return('incremental') -}}
{%- endmacro %}

{% macro spark__reconciliation_state_materialization() -%}
    {#- Spark over plain Parquet tables (an in-memory catalog per session): no MERGE (a table format
        such as Iceberg or Delta would have one), so the state is rebuilt every run. -#}
    {{- return('table') -}}
{%- endmacro %}

{% macro state_is_maintained() -%}
    {#- Whether this engine keeps the state between runs; the bookkeeping hooks do nothing where
        it is rebuilt every run. -#}
    {{- return(config.get('materialized') == 'incremental') -}}
{%- endmacro %}


{% macro incremental_state_plan() -%}
    {#- How this build of the state goes, decided when the model compiles (the pre-hook that writes
        the dirty keys decides again, the same way, before the model runs):
          merging     a stored state exists and is not being replaced (dbt's is_incremental()): the
                      stored items this build re-examines and no longer finds become tombstones;
          by_changes  only the dirty items are classified (dirty_keys.sql), the others are carried
                      forward; otherwise every item is classified;
          reason      why every item is classified, when it is.
        A merging build classifies every item (a rebuild) when the stored state cannot be carried
        forward: it predates a column of the model; landing has no change log (it was not written
        by the platform's extraction); no build is recorded; an extraction replaced a whole source
        table since the last build; as_of is earlier than the stored state's; or τ or G differ
        from those the stored items were classified with. -#}
    {%- if not _state_exists() -%}
        {{- return({'merging': false, 'by_changes': false, 'reason': 'no stored state to merge into'}) -}}
    {%- endif -%}
    {%- set reason = _why_every_item() -%}
    {{- return({'merging': true, 'by_changes': reason is none, 'reason': reason}) -}}
{%- endmacro %}

{% macro _state_exists() -%}
    {#- dbt's is_incremental(), asked only when dbt runs or builds: it asks the database whether the
        relation exists, which `dbt compile --no-populate-cache` with no server (the Trino grammar
        check, tests/reconciliation) cannot answer. -#}
    {%- if not execute or flags.WHICH not in ('run', 'build') -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(is_incremental()) -}}
{%- endmacro %}

{% macro _why_every_item() -%}
    {%- set stored_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- for column in ['classified_seq', 'payment_ids'] if column not in stored_columns -%}
        {{- return('the stored state predates its column ' ~ column) -}}
    {%- endfor -%}
    {%- set change_log = change_log_relation() -%}
    {%- if change_log is none -%}
        {{- return('landing has no change log') -}}
    {%- endif -%}
    {%- set builds = control_relation('state_builds') -%}
    {%- if adapter.get_relation(builds.database, builds.schema, builds.identifier) is none -%}
        {{- return('no build of the state is recorded') -}}
    {%- endif -%}
    {%- set checks = run_query(_carry_forward_checks(change_log, builds)).rows[0] -%}
    {%- if checks['no_build_recorded'] -%}
        {{- return('no build of the state is recorded') -}}
    {%- elif checks['table_replaced'] -%}
        {{- return('an extraction replaced a whole source table since the last build') -}}
    {%- elif checks['as_of_went_back'] -%}
        {{- return("as_of is earlier than the stored state's") -}}
    {%- elif checks['parameters_changed'] -%}
        {{- return('τ or G differ from the stored state\'s') -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}

{% macro _carry_forward_checks(change_log, builds) -%}
with last_build as (
    {{ last_state_build(builds) }}
)
select
    (select count(*) from last_build) = 0 as no_build_recorded,
    exists (
        select 1 from {{ change_log }}
        where full_refresh
          and change_batch > coalesce((select consumed_change_batch from last_build), -1)
    ) as table_replaced,
    coalesce((select as_of from last_build) > {{ as_of() }}, false)
        or exists (select 1 from {{ this }} where classified_as_of > {{ as_of() }}) as as_of_went_back,
    exists (
        select 1 from {{ this }}
        where classified_tolerance <> {{ tolerance() }}
           or classified_grace_minutes <> {{ grace_minutes() }}
    ) as parameters_changed
{%- endmacro %}
