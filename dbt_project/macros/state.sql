{% macro control_schema() -%}
    {#- Where the platform keeps its control tables (run parameters, builds): `control` in the DuckDB
        file; on Trino the deployment's own schema (FINANCE_RECON_CONTROL_SCHEMA), so two deployments
        on one catalog never share them. -#}
    {{- return(var('control_schema', env_var('FINANCE_RECON_CONTROL_SCHEMA', 'control'))) -}}
{%- endmacro %}

{% macro control_relation(identifier) -%}
    {{- return(api.Relation.create(database=target.database, schema=control_schema(), identifier=identifier)) -}}
{%- endmacro %}

{% macro state_is_incremental() -%}
    {#- is_incremental(), asked only when dbt runs or builds: dbt's own is_incremental() asks the
        database whether the relation exists, so `dbt compile --no-populate-cache` against an absent
        server (the Trino grammar check) would fail. -#}
    {%- if flags.WHICH not in ('run', 'build') -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(is_incremental()) -}}
{%- endmacro %}

{% macro state_build_plan() -%}
    {#- How this build of the maintained state goes, decided once for the model and its Trino
        pre-hook (macros/dirty_keys.sql): whether it merges into a stored state (and that state's
        columns), whether it goes by changes (and the change log and build record it reads), and the
        grace window's cut-off. -#}
    {%- set merging = state_is_incremental() -%}
    {%- set stored_columns = (adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list)
                             if merging else [] -%}
    {%- set by_changes = state_by_changes(stored_columns) -%}
    {{- return({
        'merging': merging,
        'stored_columns': stored_columns,
        'by_changes': by_changes,
        'change_log': change_log_relation() if by_changes else none,
        'state_builds': adapter.get_relation(target.database, control_schema(), 'state_builds') if by_changes else none,
        'grace_cutoff': add_minutes(as_of_ts(), '0 - ' ~ grace_minutes()),
    }) -}}
{%- endmacro %}

{% macro state_by_changes(stored_columns) -%}
    {#- Whether this build of the maintained state re-classifies only the dirty rows (its header),
        given the stored state's columns (empty when there is none to merge into): the state has
        today's columns (a state without the evidence columns predates them: every row is
        re-classified once), the parameters come from control.run_parameters, and the change log
        and the record of the last build exist. -#}
    {%- if not ('classified_seq' in stored_columns and 'payment_ids' in stored_columns and params_from_table()) -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(change_log_relation() is not none
               and adapter.get_relation(target.database, control_schema(), 'state_builds') is not none) -}}
{%- endmacro %}

{% macro landing_schema() -%}
    {#- Where the extraction lands (the `landing` source's schema, _landing__sources.yml). -#}
    {{- return(var('landing_schema', env_var('FINANCE_RECON_LANDING_SCHEMA', 'landing'))) -}}
{%- endmacro %}

{% macro change_log_relation() -%}
    {#- landing._changed_keys, one row per key a landed batch touched (finance_recon/sources/landing.py);
        none when the table does not exist. -#}
    {{- return(adapter.get_relation(target.database, landing_schema(), '_changed_keys')) -}}
{%- endmacro %}

{% macro record_state_build() -%}
    {#- Post-hook of the maintained state, inside its transaction: which run built it, with which
        as_of, and the last change-log batch it consumed (the next build's dirty rows come after).
        Only when the parameters come from control.run_parameters (the platform's runs). -#}
    {%- if not (execute and params_from_table() and flags.WHICH in ('run', 'build')) -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set change_log = change_log_relation() -%}
    insert into {{ control_relation('state_builds') }} (seq, run_id, as_of, consumed_change_batch, built_at)
    select
        seq,
        run_id,
        as_of,
        {% if change_log is not none %}(select coalesce(max(change_batch), 0) from {{ change_log }}){% else %}0{% endif %},
        now()
    from {{ control_relation('run_parameters') }}
    order by seq desc
    limit 1
{%- endmacro %}

{% macro prune_change_log() -%}
    {#- Post-hook after record_state_build: the consumed part of the change log is not needed again. -#}
    {%- if not (execute and params_from_table() and flags.WHICH in ('run', 'build')) -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set change_log = change_log_relation() -%}
    {%- if change_log is none -%}
        {{- return('') -}}
    {%- endif -%}
    delete from {{ change_log }}
    where change_batch <= (select max(consumed_change_batch) from {{ control_relation('state_builds') }})
{%- endmacro %}
