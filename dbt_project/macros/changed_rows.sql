{#-
  Production data tests evaluated on what changed (a run costs what changed, not the history).

  A row that was tested by a build whose tests all passed, and has not changed since, need not be
  tested again by a row-local test (not_null, accepted_values, an expression over one row, the
  relationship of that row). The platform records such a build in control.verified_builds once
  `dbt build` succeeded (finance_recon/reconciliation/parameters.py); a failed or killed build
  records nothing, so the next run tests its rows again. Tests opt in with a placeholder in their
  `where` config, expanded here at run time — dbt renders a test's `where` when the YAML is parsed,
  before the run's parameters exist, and overriding get_where_subquery is dbt's documented hook for
  run-time filters:

    __changed_items__
        items of the maintained state (int_reconciliation_items) classified after the last verified
        build (classified_seq); a rebuild (τ/G changed, as_of went back, --full-refresh)
        re-classifies every item, so every item is tested.

  (The landing and staging rows are not tested in production: the blocking contract suite checks
  every batch before it lands, see dbt_project.yml.)

  Without the parameters table (--vars: unit tests, ad hoc, Spark, Trino) nothing is verified, so
  every placeholder selects every row.
-#}

{% macro run_seq() -%}
    {#- The run's sequence number in control.run_parameters (0 when parameters come from --vars). -#}
    {%- if params_from_table() -%}
        {{- return(run_parameter('seq')) -}}
    {%- endif -%}
    {{- return('cast(0 as bigint)') -}}
{%- endmacro %}

{% macro _verified_builds() -%}
    {{- return(control_relation('verified_builds')) -}}
{%- endmacro %}

{% macro _changed_items_filter() -%}
    {#- A filter on the tested row's own column (the state and fct_reconciliation_items carry it), so
        DuckDB filters while it scans the state: a lookup of the changed keys instead cost a scan and
        a semi-join of every item per test (10M items: ~1-2.5 s each). -#}
    classified_seq > (select coalesce(max(seq), -1) from {{ _verified_builds() }})
{%- endmacro %}

{% macro expand_changed_placeholders(where) -%}
    {%- set expanded = where -%}
    {%- if params_from_table() -%}
        {%- set expanded = expanded
            | replace('__changed_items__', '(' ~ _changed_items_filter() ~ ')') -%}
    {%- else -%}
        {%- set expanded = expanded
            | replace('__changed_items__', 'true') -%}
    {%- endif -%}
    {{- return(expanded) -}}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {#- dbt's default__get_where_subquery, with the placeholders above expanded at run time. -#}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = expand_changed_placeholders(where) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{- return(filtered) -}}
    {%- endif -%}
    {{- return(relation) -}}
{%- endmacro %}

{% macro few_rows(model, where, limit=250000) -%}
    {#- Whether at most `limit` rows of `model` satisfy `where` (counted when the test runs, with a
        LIMIT so that a large count stops early). False while parsing or compiling without a run. -#}
    {%- if not execute or flags.WHICH not in ('run', 'build', 'test') -%}
        {{- return(false) -}}
    {%- endif -%}
    {%- set counted = run_query(
        'select count(*) from (select 1 from ' ~ model ~ ' where ' ~ where ~ ' limit ' ~ (limit + 1) ~ ') as changed'
    ) -%}
    {{- return(counted.columns[0].values()[0] <= limit) -}}
{%- endmacro %}
