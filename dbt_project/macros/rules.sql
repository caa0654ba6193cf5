{#-
  The reconciliation rules of contracts §2, as macros over their inputs. The intermediate models
  apply them to every row (models/intermediate/, where the unit tests prove them); the maintained
  state (models/state/int_reconciliation_items.sql) applies the same macros to the dirty rows only,
  so a run re-classifies what changed without a second copy of any rule. Each input is a relation
  or CTE name with the staging models' columns.
-#}

{% macro aggregate_payments_to_orders(orders, payments) -%}
    {#-
    Succeeded payments summed per order (contracts §2), one row per considered order that has at
    least one succeeded payment. Pending and failed payments never count. Amounts count only in
    the order's currency; a payment in any other currency is flagged for the currency rule.
      orders: stg_shop__orders rows; payments: stg_payments__payments rows (any status).
    -#}
    with orders as (

        select order_id, currency as order_currency
        from {{ orders }}

    ),

    succeeded_payments as (

        select order_id, payment_kind, currency, amount
        from {{ payments }}
        where payment_status = 'succeeded'
          and order_id is not null

    ),

    payments_with_order_currency as (

        select
            succeeded_payments.order_id,
            succeeded_payments.currency,
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
        aggregated.order_id,
        aggregated.captured,
        aggregated.reversed,
        {{ money('aggregated.captured - aggregated.reversed') }} as net,
        aggregated.n_charges,
        aggregated.n_foreign_currency_payments
    from aggregated
{%- endmacro %}


{% macro classify_orders(orders, payments_by_order) -%}
    {#-
    Every considered order with its amounts, age and category: the order rules of contracts §2,
    applied in the contract's order (the first rule that applies wins).
      orders: stg_shop__orders rows; payments_by_order: aggregate_payments_to_orders of them.
    -#}
    with orders as (

        select * from {{ orders }}

    ),

    payments as (

        select * from {{ payments_by_order }}

    ),

    measured as (

        select
            orders.order_id,
            orders.customer_id,
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
            orders.created_at >= {{ add_minutes(as_of_ts(), '0 - ' ~ grace_minutes()) }} as is_within_grace
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
        customer_id,
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
{%- endmacro %}


{% macro unmatched_payments(payments, orders) -%}
    {#-
    Succeeded payments that name no considered order (order_id NULL, or an order that does not
    exist as of as_of): in flight while younger than G (the order may not have replicated yet),
    orphan_payment after that (contracts §2).
      payments: stg_payments__payments rows; orders: at least every considered order that those
      payments name (a payment is unmatched when its order_id is not among them).
    -#}
    with payments as (

        select * from {{ payments }}
        where payment_status = 'succeeded'

    ),

    orders as (

        select order_id from {{ orders }}

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
            created_at >= {{ add_minutes(as_of_ts(), '0 - ' ~ grace_minutes()) }} as is_within_grace
        from unmatched

    )

    select
        payment_id,
        order_id,
        provider,
        payment_kind,
        currency,
        -- the evidence columns of a break (order_evidence), for the payment itself (it names no customer)
        payment_id as payment_ids,
        currency as payment_currencies,
        provider as providers,
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
{%- endmacro %}


{% macro settled_categories() -%}
    {#- The categories that are not breaks (contracts §2), as a SQL list: is_break is `category not in
        (...)`. finance_recon.contracts.NON_BREAK_CATEGORIES is the same list (tests/test_names.py). -#}
    'matched', 'open', 'in_flight'
{%- endmacro %}


{% macro order_evidence(orders, payments) -%}
    {#-
    The evidence a break is worked from (contracts §2), for the order items that are breaks: the ids,
    currencies and providers of the order's succeeded payments, each sorted and ';'-joined so a rerun
    gives the same string. Only breaks carry evidence — Finance works from breaks — so only their
    payments are aggregated into lists: DuckDB cannot spill a list aggregate, and one list per order
    for every order ran a 10M-order full build out of its 2 GB memory limit.
      orders: classify_orders rows; payments: stg_payments__payments rows (any status).
    -#}
    select
        payments.order_id,
        {{ sorted_string_agg('payments.payment_id') }} as payment_ids,
        {{ sorted_string_agg('payments.currency', distinct=true) }} as payment_currencies,
        {{ sorted_string_agg('payments.provider', distinct=true) }} as providers
    from {{ payments }} as payments
    inner join {{ orders }} as breaks
        on payments.order_id = breaks.order_id
    where payments.payment_status = 'succeeded'
      and breaks.category not in ({{ settled_categories() }})
    group by payments.order_id
{%- endmacro %}
