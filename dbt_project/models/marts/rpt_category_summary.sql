-- One row per category and currency present in this run: how many items and how much money each
-- holds. Amounts of different currencies stay on different rows.

select
    category,
    currency,
    is_break,
    cast(sum(items) as bigint) as items,
    {{ money('sum(expected)') }} as expected,
    {{ money('sum(net)') }} as net,
    {{ money('sum(difference)') }} as difference
from {{ ref('int_reconciliation_items_summed') }}
group by category, currency, is_break
