-- The run's money, one row per currency (contracts §2/§3): amounts of different currencies are never
-- added together, so the report's totals are these rows, never a sum over them. Counts per currency
-- add up to the global counts of rpt_reconciliation_summary.

select
    currency,
    cast(sum(items) as bigint) as item_count,
    cast(coalesce(sum(case when item_type = 'order' then items end), 0) as bigint) as order_count,
    cast(coalesce(sum(case when is_break then items end), 0) as bigint) as break_count,
    {{ money("coalesce(sum(case when item_type = 'order' then expected end), 0)") }} as total_expected,
    {{ money("coalesce(sum(case when item_type = 'order' then net end), 0)") }} as total_net,
    {{ money('coalesce(sum(case when is_break then abs_difference end), 0)') }} as break_amount
from {{ ref('int_reconciliation_items_summed') }}
group by currency
