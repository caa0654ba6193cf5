-- Every considered order with its amounts, age and category: the order rules of contracts §2,
-- applied in the contract's order (the first rule that applies wins).

with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

payments as (

    select * from {{ ref('int_payments_aggregated_to_orders') }}

),

measured as (

    select
        orders.order_id,
        orders.order_status,
        orders.currency,
        {{ money("case when orders.order_status in ('paid', 'shipped', 'delivered') then orders.total_amount else 0 end") }} as expected,
        {{ money('coalesce(payments.captured, 0)') }} as captured,
        {{ money('coalesce(payments.reversed, 0)') }} as reversed,
        {{ money('coalesce(payments.net, 0)') }} as net,
        coalesce(payments.n_charges, 0) as n_charges,
        coalesce(payments.n_foreign_currency_payments, 0) > 0 as has_foreign_currency_payment,
        orders.created_at,
        orders.updated_at,
        {{ whole_minutes_between('orders.created_at', as_of_ts()) }} as age_minutes,
        -- age ≤ G, compared on exact timestamps (not truncated minutes): G + 1 µs is already late.
        orders.created_at >= {{ add_minutes(as_of_ts(), '-' ~ grace_minutes()) }} as is_within_grace
    from orders
    left join payments
        on orders.order_id = payments.order_id

),

classified as (

    select
        *,
        case
            when has_foreign_currency_payment then 'currency_mismatch'

            when order_status = 'pending' then
                case
                    when net = 0 then 'open'
                    when net > 0 and is_within_grace then 'in_flight'
                    else 'order_status_lag'
                end

            when order_status in ('paid', 'shipped', 'delivered') then
                case
                    when abs(net - expected) <= {{ tolerance() }} then 'matched'
                    when captured = 0 and is_within_grace then 'in_flight'
                    when captured = 0 then 'missing_payment'
                    when net < expected - {{ tolerance() }} then 'underpaid'
                    when n_charges >= 2 then 'duplicate_charge'
                    else 'overpaid'
                end

            when order_status in ('cancelled', 'refunded') then
                case
                    when abs(net) <= {{ tolerance() }} then 'matched'
                    when net > {{ tolerance() }} then 'refund_due'
                    else 'over_refunded'
                end
        end as category
    from measured

)

select
    order_id,
    order_status,
    currency,
    expected,
    captured,
    reversed,
    net,
    {{ money('net - expected') }} as difference,
    n_charges,
    has_foreign_currency_payment,
    created_at,
    updated_at,
    age_minutes,
    is_within_grace,
    category
from classified
