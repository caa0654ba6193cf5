-- Succeeded payments that name no considered order (order_id NULL, or an order that does not
-- exist as of as_of): in flight while younger than G (the order may not have replicated yet),
-- orphan_payment after that (contracts §2).

with payments as (

    select * from {{ ref('stg_payments__payments') }}
    where payment_status = 'succeeded'

),

orders as (

    select order_id from {{ ref('stg_shop__orders') }}

),

unmatched as (

    select payments.*
    from payments
    left join orders
        on payments.order_id = orders.order_id
    where orders.order_id is null

),

measured as (

    select
        payment_id,
        order_id,
        provider,
        payment_kind,
        currency,
        {{ money("case when payment_kind = 'charge' then amount else 0 end") }} as captured,
        {{ money("case when payment_kind in ('refund', 'chargeback') then amount else 0 end") }} as reversed,
        case when payment_kind = 'charge' then 1 else 0 end as n_charges,
        created_at,
        updated_at,
        {{ whole_minutes_between('created_at', as_of_ts()) }} as age_minutes,
        created_at >= {{ add_minutes(as_of_ts(), '-' ~ grace_minutes()) }} as is_within_grace
    from unmatched

)

select
    payment_id,
    order_id,
    provider,
    payment_kind,
    currency,
    {{ money('0') }} as expected,
    captured,
    reversed,
    {{ money('captured - reversed') }} as net,
    {{ money('captured - reversed') }} as difference,
    n_charges,
    created_at,
    updated_at,
    age_minutes,
    is_within_grace,
    case when is_within_grace then 'in_flight' else 'orphan_payment' end as category
from measured
