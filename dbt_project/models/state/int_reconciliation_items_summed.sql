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
-- Correctness-prober items are classified but never summed: no total, count or break of Finance's.
where not {{ is_synthetic('order_id', 'payment_id') }}
group by category, is_break, item_type, currency
