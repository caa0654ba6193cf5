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
