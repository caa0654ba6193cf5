-- The one-row summary must add up: every category count, the break count, the order count and the
-- money totals agree with the maintained state summed (int_reconciliation_items_summed), which in
-- turn covers every stored item; the category summary covers the same items. Returns a row per
-- mismatch (a failure). The sums themselves are proven by the unit tests (CI); here the guard is
-- that the three tables describe the same state, read from small tables (no re-read of every item).
-- In Dagster it is an asset check on the summary (a singular test with two parents needs the hint).

{{ config(meta={'dagster': {'ref': {'name': 'rpt_reconciliation_summary'}}}) }}

{%- set categories = [
    'matched', 'open', 'in_flight', 'currency_mismatch', 'order_status_lag', 'missing_payment',
    'underpaid', 'overpaid', 'duplicate_charge', 'refund_due', 'over_refunded', 'orphan_payment',
] %}

with summed as (

    select * from {{ ref('int_reconciliation_items_summed') }}

),

items as (

    select
        coalesce(sum(items), 0) as n_items,
        coalesce(sum(case when item_type = 'order' then items end), 0) as n_orders,
        coalesce(sum(case when is_break then items end), 0) as n_breaks,
        coalesce(sum(case when item_type = 'order' then expected end), 0) as total_expected,
        coalesce(sum(case when item_type = 'order' then net end), 0) as total_net,
        coalesce(sum(case when is_break then abs_difference end), 0) as break_amount
    from summed

),

stored as (

    select
        -- summed leaves out the correctness-prober items; considered (staging) keeps them
        count(case when not {{ is_synthetic('order_id', 'payment_id') }} then 1 end) as n_items,
        count(case when item_type = 'order' then 1 end) as n_orders
    from {{ ref('int_reconciliation_items') }}

),

considered as (

    select count(*) as n_orders from {{ ref('stg_shop__orders') }}

),

summary as (

    select * from {{ ref('rpt_reconciliation_summary') }}

),

checks as (

    select 'summed covers every stored item' as failed_check
    from stored cross join items
    where stored.n_items <> items.n_items

    union all
    -- With the relationship tests on changed items only, this keeps the whole state honest: one
    -- order item per considered order, no more (a vanished order's item is gone), no fewer.
    select 'one order item per considered order'
    from stored cross join considered
    where stored.n_orders <> considered.n_orders

    union all
    select 'categories add up to items'
    from summary cross join items
    where {% for category in categories %}summary.count_{{ category }}{% if not loop.last %} + {% endif %}{% endfor %} <> items.n_items

    union all
    select 'orders_considered' from summary cross join items where summary.orders_considered <> items.n_orders

    union all
    select 'breaks' from summary cross join items where summary.breaks <> items.n_breaks

    union all
    select 'breaks = non matched/open/in_flight counts' from summary
    where summary.breaks <> (0
        {%- for category in categories if category not in ['matched', 'open', 'in_flight'] %} + summary.count_{{ category }}{% endfor %})

    union all
    select 'total_expected' from summary cross join items where summary.total_expected <> items.total_expected

    union all
    select 'total_net' from summary cross join items where summary.total_net <> items.total_net

    union all
    select 'break_amount' from summary cross join items where summary.break_amount <> items.break_amount

    {%- for category in categories %}
    union all
    select 'count_{{ category }}'
    from summary
    where summary.count_{{ category }} <> (
        select coalesce(sum(items), 0) from summed where category = '{{ category }}'
    )
    {%- endfor %}

    union all
    select 'category summary items' from items
    where items.n_items <> (select coalesce(sum(items), 0) from {{ ref('rpt_category_summary') }})

)

select * from checks
