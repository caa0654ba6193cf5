-- The reconciliation of contracts §2, one row per item: every considered order, and every succeeded
-- payment that names no considered order, with its category (the first rule that applies), the
-- amounts it was classified from and, on a break, its evidence.
--
-- The items are kept between runs (incremental): a build classifies only the items whose inputs
-- changed since the last build, with the same rules, and carries the others forward. Which items
-- those are, the tombstones of items that are gone and the record of each build live in
-- macros/incremental_state/; every build gives what a full build would (tests/reconciliation).
-- Values that change with time alone (the age) are not kept: fct_reconciliation_items derives them.
-- The config: merged on item_key, where a tombstone (is_deleted) deletes its stored row; the hooks
-- keep the build's bookkeeping (its dirty keys before, its record and the consumed change log after).

{{ config(
    materialized=reconciliation_state_materialization(),
    unique_key='item_key',
    incremental_strategy='merge',
    on_schema_change='sync_all_columns',
    merge_clauses={
        'when_matched': [
            {'action': 'delete', 'condition': 'DBT_INTERNAL_SOURCE.is_deleted'},
            {'action': 'update', 'mode': 'by_name'},
        ],
        'when_not_matched': [
            {'action': 'insert', 'mode': 'by_name', 'condition': 'not DBT_INTERNAL_SOURCE.is_deleted'},
        ],
    },
    pre_hook=["{{ create_state_bookkeeping() }}", "{{ write_dirty_keys() }}"],
    post_hook=["{{ delete_tombstones() }}", "{{ record_state_build() }}", "{{ prune_change_log() }}",
               "{{ drop_dirty_keys() }}"],
) }}

{#- Every item, or only the dirty ones (macros/incremental_state/plan.sql). -#}
{%- set build = incremental_state_plan() %}

with

-- The orders and payments this build classifies: every considered one, or on a build by changes
-- only the dirty ones.

orders as (

    select * from {{ ref('stg_shop__orders') }}
    {%- if build.by_changes %}
    where order_id in {{ dirty_order_ids() }}
    {%- endif %}

),

payments_of_orders as (

    -- the payments naming those orders, whatever their status
    select * from {{ ref('stg_payments__payments') }}
    {%- if build.by_changes %}
    where order_id in {{ dirty_order_ids() }}
    {%- endif %}

),

payments as (

    -- the payments whose own item (a payment naming no considered order) this build decides
    select * from {{ ref('stg_payments__payments') }}
    {%- if build.by_changes %}
    where payment_id in {{ dirty_payment_ids() }}
    {%- endif %}

),

orders_named as (

    -- the considered orders those payments name: enough to tell a matched payment from a stray one
    select order_id from {{ ref('stg_shop__orders') }}
    {%- if build.by_changes %}
    where order_id in (select order_id from payments)
    {%- endif %}

),

-- Per order: only succeeded payments count. captured = charges and reversed = refunds +
-- chargebacks, both in the order's currency; n_charges counts the succeeded charges; a succeeded
-- payment in another currency is flagged for the currency rule.

succeeded_payments_of_orders as (

    select
        payments_of_orders.order_id,
        payments_of_orders.payment_kind,
        payments_of_orders.amount,
        payments_of_orders.currency = orders.currency as is_order_currency
    from payments_of_orders
    inner join orders
        on payments_of_orders.order_id = orders.order_id
    where payments_of_orders.payment_status = 'succeeded'

),

payments_by_order as (

    select
        order_id,
        {{ money("sum(case when is_order_currency and payment_kind = 'charge' then amount else cast(0 as decimal(18, 2)) end)") }} as captured,
        {{ money("sum(case when is_order_currency and payment_kind in ('refund', 'chargeback') then amount else cast(0 as decimal(18, 2)) end)") }} as reversed,
        count(case when payment_kind = 'charge' then 1 end) as n_charges,
        count(case when not is_order_currency then 1 end) > 0 as has_foreign_currency_payment
    from succeeded_payments_of_orders
    group by order_id

),

orders_measured as (

    select
        orders.order_id,
        orders.customer_id,
        orders.order_status,
        orders.currency,
        -- what the order is owed: its total once paid, shipped or delivered; nothing otherwise
        {{ money("case when orders.order_status in ('paid', 'shipped', 'delivered') then orders.total_amount else 0 end") }} as expected,
        {{ money('coalesce(payments_by_order.captured, 0)') }} as captured,
        {{ money('coalesce(payments_by_order.reversed, 0)') }} as reversed,
        {{ money('coalesce(payments_by_order.captured, 0) - coalesce(payments_by_order.reversed, 0)') }} as net,
        coalesce(payments_by_order.n_charges, 0) as n_charges,
        coalesce(payments_by_order.has_foreign_currency_payment, false) as has_foreign_currency_payment,
        orders.created_at,
        orders.updated_at,
        -- age ≤ G
        orders.created_at >= {{ grace_window_start() }} as is_within_grace
    from orders
    left join payments_by_order
        on orders.order_id = payments_by_order.order_id

),

orders_classified as (

    select
        *,
        case
            -- 1. a succeeded payment in another currency
            when has_foreign_currency_payment then 'currency_mismatch'

            -- 2. pending: money on an order that never advanced is a break once G has passed
            when order_status = 'pending' then
                case
                    when net = 0 then 'open'
                    when net > 0 and is_within_grace then 'in_flight'
                    else 'order_status_lag'
                end

            -- 3. paid, shipped, delivered
            when order_status in ('paid', 'shipped', 'delivered') then
                case
                    when abs(net - expected) <= {{ tolerance() }} then 'matched'
                    when captured = 0 and is_within_grace then 'in_flight'
                    when captured = 0 then 'missing_payment'
                    when net < expected - {{ tolerance() }} then 'underpaid'
                    when n_charges >= 2 then 'duplicate_charge'
                    else 'overpaid'
                end

            -- 4. cancelled, refunded: nothing is owed
            when order_status in ('cancelled', 'refunded') then
                case
                    when abs(net) <= {{ tolerance() }} then 'matched'
                    when net > {{ tolerance() }} then 'refund_due'
                    else 'over_refunded'
                end
        end as category
    from orders_measured

),

-- Per payment: a succeeded payment whose order_id is NULL or names no considered order is in
-- flight while it is at most G old (its order may not have replicated yet), an orphan_payment after.
-- Its amounts are signed by its kind; nothing is expected of it.

stray_payments as (

    select payments.*
    from payments
    left join orders_named
        on payments.order_id = orders_named.order_id
    where payments.payment_status = 'succeeded'
      and orders_named.order_id is null

),

stray_payments_classified as (

    select
        payment_id,
        order_id,
        provider,
        currency,
        {{ money("case when payment_kind = 'charge' then amount else 0 end") }} as captured,
        {{ money("case when payment_kind in ('refund', 'chargeback') then amount else 0 end") }} as reversed,
        case when payment_kind = 'charge' then 1 else 0 end as n_charges,
        created_at,
        updated_at,
        created_at >= {{ grace_window_start() }} as is_within_grace,
        case when created_at >= {{ grace_window_start() }} then 'in_flight' else 'orphan_payment' end as category
    from stray_payments

),

-- The evidence a break is worked from: the ids, currencies and providers of the order's succeeded
-- payments, sorted and ';'-joined so that a rerun gives the same strings. Breaks only: Finance works
-- from breaks, and DuckDB cannot spill a list aggregate (one list per order ran a 10M-order build
-- out of its 2 GB memory limit).

break_evidence as (

    select
        payments_of_orders.order_id,
        {{ sorted_string_agg('payments_of_orders.payment_id') }} as payment_ids,
        {{ sorted_string_agg('payments_of_orders.currency', distinct=true) }} as payment_currencies,
        {{ sorted_string_agg('payments_of_orders.provider', distinct=true) }} as providers
    from payments_of_orders
    inner join orders_classified
        on payments_of_orders.order_id = orders_classified.order_id
    where payments_of_orders.payment_status = 'succeeded'
      and orders_classified.category not in ({{ settled_categories() }})
    group by payments_of_orders.order_id

),

order_items as (

    select
        'order:' || cast(orders_classified.order_id as {{ dbt.type_string() }}) as item_key,
        'order' as item_type,
        orders_classified.order_id,
        cast(null as {{ dbt.type_string() }}) as payment_id,
        orders_classified.customer_id,
        break_evidence.payment_ids,
        break_evidence.payment_currencies,
        break_evidence.providers,
        orders_classified.order_status,
        orders_classified.currency,
        orders_classified.expected,
        orders_classified.captured,
        orders_classified.reversed,
        orders_classified.net,
        orders_classified.n_charges,
        orders_classified.created_at,
        orders_classified.updated_at,
        orders_classified.is_within_grace,
        orders_classified.category
    from orders_classified
    left join break_evidence
        on orders_classified.order_id = break_evidence.order_id

),

payment_items as (

    select
        'payment:' || payment_id as item_key,
        'payment' as item_type,
        order_id,
        payment_id,
        cast(null as bigint) as customer_id,
        -- a stray payment's evidence is itself (it names no customer)
        payment_id as payment_ids,
        currency as payment_currencies,
        provider as providers,
        cast(null as {{ dbt.type_string() }}) as order_status,
        currency,
        {{ money('0') }} as expected,
        captured,
        reversed,
        {{ money('captured - reversed') }} as net,
        n_charges,
        created_at,
        updated_at,
        is_within_grace,
        category
    from stray_payments_classified

),

items as (

    select
        item_key,
        item_type,
        -- stable across category changes: a hash of the key only
        {{ md5_hex('item_key') }} as break_id,
        order_id,
        payment_id,
        cast(customer_id as bigint) as customer_id,
        cast(case when category not in ({{ settled_categories() }}) then payment_ids end as {{ dbt.type_string() }}) as payment_ids,
        cast(case when category not in ({{ settled_categories() }}) then payment_currencies end as {{ dbt.type_string() }}) as payment_currencies,
        cast(case when category not in ({{ settled_categories() }}) then providers end as {{ dbt.type_string() }}) as providers,
        order_status,
        currency,
        -- one item's amounts fit the sources' DECIMAL(18,2) (cross_db.sql, stored_money)
        {{ stored_money('expected') }} as expected,
        {{ stored_money('captured') }} as captured,
        {{ stored_money('reversed') }} as reversed,
        {{ stored_money('net') }} as net,
        {{ stored_money('net - expected') }} as difference,
        cast(n_charges as integer) as n_charges,
        created_at,
        category,
        category not in ({{ settled_categories() }}) as is_break,
        -- what the item was classified from, with what, by which run
        is_within_grace,
        updated_at as source_updated_at,
        {{ as_of() }} as classified_as_of,
        {{ tolerance() }} as classified_tolerance,
        {{ grace_minutes() }} as classified_grace_minutes,
        {{ run_seq() }} as classified_seq
    from (
        select * from order_items
        union all
        select * from payment_items
    ) as classified

){% if build.merging %},

gone as (

    {{ stored_items_no_longer_found('items', build) }}

){% endif %}

select *, false as is_deleted from items
{%- if build.merging %}

union all

-- tombstones: left-joined to the items they are not among, every column but the key is NULL
select *, true as is_deleted from gone left join items using (item_key)
{%- endif %}
