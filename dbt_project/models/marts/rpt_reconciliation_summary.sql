-- The run's one-row summary (contracts §2 verdict, §3 report columns): counts per category and the
-- verdict. An aggregate without GROUP BY, so an empty landing still gives one row. Money is per
-- currency and lives in rpt_currency_totals: a one-row total would add currencies together.
-- A view: its as_of is the cut-off the state is current at (state_as_of()), which a run that finds
-- nothing dirty moves without rebuilding; the counts come from the small summed table.

{{ config(materialized='view') }}

{%- set categories = var('categories') %}

with summed as (

    -- The maintained state summed once (int_reconciliation_items_summed), not every item again.
    select * from {{ ref('int_reconciliation_items_summed') }}

),

payments as (

    select count(*) as payments_considered
    from {{ ref('stg_payments__payments') }}
    where not {{ is_synthetic('order_id', 'payment_id') }}  -- correctness-prober payments

),

totals as (

    select
        cast(coalesce(sum(case when item_type = 'order' then items end), 0) as bigint) as orders_considered,
        {%- for category in categories %}
        cast(coalesce(sum(case when category = '{{ category }}' then items end), 0) as bigint) as count_{{ category }},
        {%- endfor %}
        cast(coalesce(sum(case when is_break then items end), 0) as bigint) as breaks
    from summed

)

select
    {{ state_as_of() }} as as_of,
    {{ tolerance() }} as tolerance,
    {{ grace_minutes() }} as grace_minutes,
    totals.orders_considered,
    payments.payments_considered,
    {%- for category in categories %}
    totals.count_{{ category }},
    {%- endfor %}
    totals.breaks,
    case
        when totals.breaks > 0 then 'breaks'
        when totals.count_in_flight > 0 then 'reconciled_with_pending'
        else 'reconciled'
    end as verdict
from totals
cross join payments
