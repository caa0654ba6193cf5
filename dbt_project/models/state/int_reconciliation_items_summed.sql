-- The maintained state in one pass: one row per category × item type × currency with the item count
-- and the money sums the reports need. Both summaries read this small table instead of each
-- re-reading every item; amounts of different currencies stay on different rows.

{{ config(materialized='table') }}

select
    category,
    is_break,
    item_type,
    currency,
    count(*) as items,
    {{ money('sum(expected)') }} as expected,
    {{ money('sum(net)') }} as net,
    {{ money('sum(difference)') }} as difference,
    {{ money('sum(abs(difference))') }} as abs_difference
from {{ ref('int_reconciliation_items') }}
group by category, is_break, item_type, currency
