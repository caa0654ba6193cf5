{#- No two rows share the same values of `columns` (dbt_utils.unique_combination_of_columns, which we
    cannot install from the hub). -#}
{% test unique_columns(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
