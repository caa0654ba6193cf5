-- Succeeded payments summed per order (contracts §2), one row per considered order that has at
-- least one succeeded payment. Pending and failed payments never count. Amounts count only in
-- the order's currency; a payment in any other currency is flagged for the currency rule.

with orders as (

    select order_id, currency as order_currency
    from {{ ref('stg_shop__orders') }}

),

succeeded_payments as (

    select payment_id, order_id, payment_kind, currency, amount
    from {{ ref('stg_payments__payments') }}
    where payment_status = 'succeeded'
      and order_id is not null

),

payments_with_order_currency as (

    select
        succeeded_payments.order_id,
        succeeded_payments.payment_kind,
        succeeded_payments.amount,
        succeeded_payments.currency = orders.order_currency as is_order_currency
    from succeeded_payments
    inner join orders
        on succeeded_payments.order_id = orders.order_id

),

aggregated as (

    select
        order_id,
        {{ money("sum(case when is_order_currency and payment_kind = 'charge' then amount else cast(0 as decimal(18, 2)) end)") }} as captured,
        {{ money("sum(case when is_order_currency and payment_kind in ('refund', 'chargeback') then amount else cast(0 as decimal(18, 2)) end)") }} as reversed,
        count(case when payment_kind = 'charge' then 1 end) as n_charges,
        count(case when not is_order_currency then 1 end) as n_foreign_currency_payments
    from payments_with_order_currency
    group by order_id

)

select
    order_id,
    captured,
    reversed,
    {{ money('captured - reversed') }} as net,
    n_charges,
    n_foreign_currency_payments
from aggregated
