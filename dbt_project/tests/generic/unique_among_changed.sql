{#-
  `unique`, evaluated on what changed (macros/changed_rows.sql): the values of `column_name` held by
  the rows the `changed` placeholder selects, counted over the whole model.

  Exact, because a build whose tests passed left no duplicate (control.verified_builds), and a
  duplicate can only appear through a row written since: the count of every value a changed row
  holds is taken over all rows, so a new row colliding with an old one is found. The built-in
  `unique` groups every row of the model (10M orders: a hash aggregate of 10M keys per test, four
  such tests, ~2 min of a no-change run on this machine) to find nothing new. Without the
  parameters table (unit tests, Spark, Trino, ad hoc --vars) the placeholder selects every row and
  this is the built-in test.
-#}
{% test unique_among_changed(model, column_name, changed) %}

{%- set changed_rows = expand_changed_placeholders(changed) %}

select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} in (
    select {{ column_name }} from {{ model }} where {{ changed_rows }}
)
group by {{ column_name }}
having count(*) > 1

{% endtest %}
