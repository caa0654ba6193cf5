{% macro state_is_incremental() -%}
    {#- is_incremental(), asked only where it can be true: when the model is materialized
        incrementally (not on Spark's plain-Parquet tables) and dbt runs or builds it. dbt's own
        is_incremental() asks the database whether the relation exists first, so `dbt compile
        --no-populate-cache` against an absent server (the Trino grammar check) would fail. -#}
    {%- if model.config.materialized != 'incremental' or flags.WHICH not in ('run', 'build') -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(is_incremental()) -}}
{%- endmacro %}
