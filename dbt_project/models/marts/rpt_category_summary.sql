-- One row per category present in this run: how many items and how much money each holds.

select
    category,
    is_break,
    count(*) as items,
    {{ money('sum(expected)') }} as expected,
    {{ money('sum(net)') }} as net,
    {{ money('sum(difference)') }} as difference
from {{ ref('fct_reconciliation_items') }}
group by category, is_break
