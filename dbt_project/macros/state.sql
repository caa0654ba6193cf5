{% macro state_is_incremental() -%}
    {#- is_incremental(), asked only when dbt runs or builds: dbt's own is_incremental() asks the
        database whether the relation exists, so `dbt compile --no-populate-cache` against an absent
        server (the Trino grammar check) would fail. -#}
    {%- if flags.WHICH not in ('run', 'build') -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(is_incremental()) -}}
{%- endmacro %}
