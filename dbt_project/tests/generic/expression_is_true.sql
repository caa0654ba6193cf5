{#- Every row satisfies a boolean SQL expression (dbt_utils.expression_is_true, which we cannot install). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
