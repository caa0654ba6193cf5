-- The items summed in one pass: one row per category × item type × currency, with the item count and
-- the money sums the summaries need. The summaries read this small table instead of each re-reading
-- every item; amounts of different currencies stay on different rows.

{{ config(materialized='table') }}

with

items as (

    select * from {{ ref('int_reconciliation_items') }}

),

finance_items as (

    -- correctness-prober items (macros/synthetic.sql) are classified but never summed: no total,
    -- count or break of Finance's
    select * from items
    where not {{ is_synthetic('order_id', 'payment_id') }}

)

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
from finance_items
group by category, is_break, item_type, currency
