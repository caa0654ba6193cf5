-- One row per reconciliation item as of the cut-off: every considered order, plus every
-- succeeded payment that names no considered order. Breaks are the rows whose category is not
-- matched/open/in_flight; break_id hashes the item key only, so it survives a category change.

with orders as (

    select
        'order:' || cast(order_id as {{ dbt.type_string() }}) as item_key,
        'order' as item_type,
        order_id,
        cast(null as {{ dbt.type_string() }}) as payment_id,
        order_status,
        currency,
        expected,
        captured,
        reversed,
        net,
        difference,
        n_charges,
        created_at,
        age_minutes,
        category
    from {{ ref('int_orders_classified') }}

),

payments as (

    select
        'payment:' || payment_id as item_key,
        'payment' as item_type,
        order_id,
        payment_id,
        cast(null as {{ dbt.type_string() }}) as order_status,
        currency,
        expected,
        captured,
        reversed,
        net,
        difference,
        n_charges,
        created_at,
        age_minutes,
        category
    from {{ ref('int_payments_unmatched') }}

),

items as (

    select * from orders
    union all
    select * from payments

)

select
    item_key,
    item_type,
    {{ md5_hex('item_key') }} as break_id,
    order_id,
    payment_id,
    order_status,
    currency,
    {{ money('expected') }} as expected,
    {{ money('captured') }} as captured,
    {{ money('reversed') }} as reversed,
    {{ money('net') }} as net,
    {{ money('difference') }} as difference,
    cast(n_charges as integer) as n_charges,
    created_at,
    cast(age_minutes as bigint) as age_minutes,
    -- days = floor(age / 1 day), from whole minutes: < 2 days, < 8 days, ≤ 30 days (< 31 days).
    case
        when age_minutes < 2 * 1440 then '0-1d'
        when age_minutes < 8 * 1440 then '2-7d'
        when age_minutes < 31 * 1440 then '8-30d'
        else '>30d'
    end as age_bucket,
    category,
    category not in ('matched', 'open', 'in_flight') as is_break
from items
