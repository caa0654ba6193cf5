{#- Every listed column is non-null: one test and one scan per model instead of one per column
    (each dbt test node costs a query and a Dagster check event). Returns one row per column that
    has nulls, naming it and how many rows are null. -#}
{% test not_null_columns(model, columns) %}

with counted as (
    select
        {%- for column in columns %}
        count(*) - count({{ column }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
)

{% for column in columns %}
select '{{ column }}' as null_column, {{ column }} as null_rows from counted where {{ column }} > 0
{% if not loop.last %}union all{% endif %}
{% endfor %}

{% endtest %}
