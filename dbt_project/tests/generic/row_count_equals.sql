{#- The model has exactly `expected` rows (a one-row report must stay one row, even on empty input). -#}
{% test row_count_equals(model, expected) %}
select row_count
from (select count(*) as row_count from {{ model }}) as counted
where row_count <> {{ expected }}
{% endtest %}
