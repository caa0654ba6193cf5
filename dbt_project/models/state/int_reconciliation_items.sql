-- The maintained reconciliation state: one row per item (every considered order, plus every
-- succeeded payment that names no considered order), classified by the rules of the models it
-- reads, with what it was classified from. Incremental: a run re-classifies only the dirty items
-- and carries every other row forward (docs/engines.md):
--   - orders that are new, whose row changed (updated_at), or whose payments changed (the newest
--     updated_at, the sum of all updated_at and the count of the payments naming it, created by
--     as_of);
--   - unmatched payments that are new or changed, and stored payment items that are no longer
--     unmatched (their order arrived, they stopped being succeeded, …);
--   - items whose category depends on time and may have changed since the previous as_of: those
--     classified inside the grace window whose created_at has now left it;
--   - everything, when τ or G differ from the stored rows' or as_of went back in time.
-- A stored item that no longer exists is merged as a tombstone (is_deleted) and removed.
-- Values that change with time alone (age_minutes, age_bucket) are not stored: the view
-- fct_reconciliation_items derives them from created_at and the run's as_of.
-- The stored state (this model's table) is read where it is needed, column by column, never as one CTE: DuckDB
-- materializes a CTE referenced several times, which copied every stored row on every run.

{%- set incremental_engine = target.type in ('duckdb', 'trino') %}
{#- An item created before this instant is outside the grace window as of this run. #}
{%- set grace_cutoff = add_minutes(as_of_ts(), '-' ~ grace_minutes()) %}

{{ config(
    materialized=('incremental' if incremental_engine else 'table'),
    unique_key='item_key',
    incremental_strategy='merge',
    on_schema_change='fail',
    merge_clauses={
        'when_matched': [
            {'action': 'delete', 'condition': 'DBT_INTERNAL_SOURCE.is_deleted'},
            {'action': 'update', 'mode': 'by_name'},
        ],
        'when_not_matched': [
            {'action': 'insert', 'mode': 'by_name', 'condition': 'not DBT_INTERNAL_SOURCE.is_deleted'},
        ],
    },
    post_hook=(["delete from {{ this }} where is_deleted"] if target.type == 'trino' else []),
) }}

with payment_versions as (

    -- What an order's classification depends on from the payments side, as a fingerprint.
    select
        order_id,
        max(updated_at) as payments_updated_at,
        count(*) as payments_count,
        -- Every change of a payment raises its own updated_at, but a late commit may stay below
        -- the newest one: the sum of all of them moves with any change (newest and count alone
        -- would miss it).
        sum({{ epoch_microseconds('updated_at') }}) as payments_updated_at_sum
    from {{ ref('stg_payments__payments') }}
    where order_id is not null
    group by order_id

),

current_orders as (

    select
        orders.order_id,
        orders.updated_at as source_updated_at,
        payment_versions.payments_updated_at,
        coalesce(payment_versions.payments_count, 0) as payments_count,
        coalesce(payment_versions.payments_updated_at_sum, 0) as payments_updated_at_sum
    from {{ ref('stg_shop__orders') }} as orders
    left join payment_versions
        on orders.order_id = payment_versions.order_id

),

{% if state_is_incremental() %}

rebuild_all as (

    select count(*) > 0 as yes
    from {{ this }} as previous
    where classified_tolerance <> {{ tolerance() }}
       or classified_grace_minutes <> {{ grace_minutes() }}
       or classified_as_of > {{ as_of_ts() }}

),

dirty_orders as (

    select current_orders.order_id
    from current_orders
    -- Joined on the integer order_id (not the item_key string): the comparison runs over every order.
    left join {{ this }} as previous
        on previous.item_type = 'order'
        and previous.order_id = current_orders.order_id
    cross join rebuild_all
    where rebuild_all.yes
       or previous.item_key is null
       or previous.source_updated_at is distinct from current_orders.source_updated_at
       or previous.payments_updated_at is distinct from current_orders.payments_updated_at
       or previous.payments_count is distinct from current_orders.payments_count
       or previous.payments_updated_at_sum is distinct from current_orders.payments_updated_at_sum
       -- classified inside the grace window, outside it now: the category may change with time
       or (previous.is_within_grace and previous.created_at < {{ grace_cutoff }})

),

{% endif %}

orders as (

    select
        'order:' || cast(classified.order_id as {{ dbt.type_string() }}) as item_key,
        'order' as item_type,
        classified.order_id,
        cast(null as {{ dbt.type_string() }}) as payment_id,
        classified.order_status,
        classified.currency,
        classified.expected,
        classified.captured,
        classified.reversed,
        classified.net,
        classified.difference,
        classified.n_charges,
        classified.created_at,
        classified.is_within_grace,
        classified.category,
        current_orders.source_updated_at,
        current_orders.payments_updated_at,
        current_orders.payments_count,
        current_orders.payments_updated_at_sum
    from {{ ref('int_orders_classified') }} as classified
    inner join current_orders
        on classified.order_id = current_orders.order_id
    {% if state_is_incremental() %}
    where classified.order_id in (select order_id from dirty_orders)
    {% endif %}

),

unmatched_payments as (

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
        is_within_grace,
        category,
        updated_at as source_updated_at,
        cast(null as {{ dbt.type_timestamp() }}) as payments_updated_at,
        0 as payments_count,
        0 as payments_updated_at_sum
    from {{ ref('int_payments_unmatched') }}

),

payments as (

    select unmatched_payments.*
    from unmatched_payments
    {% if state_is_incremental() %}
    left join {{ this }} as previous
        on previous.item_key = unmatched_payments.item_key
    cross join rebuild_all
    where rebuild_all.yes
       or previous.item_key is null
       or previous.source_updated_at is distinct from unmatched_payments.source_updated_at
       or (previous.is_within_grace and previous.created_at < {{ grace_cutoff }})
    {% endif %}

),

fresh as (

    select * from orders
    union all
    select * from payments

),

items as (

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
        category,
        category not in ('matched', 'open', 'in_flight') as is_break,
        is_within_grace,
        source_updated_at,
        cast(payments_updated_at as {{ dbt.type_timestamp() }}) as payments_updated_at,
        cast(payments_count as bigint) as payments_count,
        cast(payments_updated_at_sum as decimal(38, 0)) as payments_updated_at_sum,
        {{ as_of_ts() }} as classified_as_of,
        {{ tolerance() }} as classified_tolerance,
        {{ grace_minutes() }} as classified_grace_minutes,
        false as is_deleted
    from fresh

)

select * from items

{% if state_is_incremental() %}

union all

-- Tombstones: stored items that no longer exist (an order gone from the landing, a payment item
-- whose payment is now matched, no longer succeeded or no longer considered).
select
    previous.item_key,
    previous.item_type,
    previous.break_id,
    previous.order_id,
    previous.payment_id,
    previous.order_status,
    previous.currency,
    previous.expected,
    previous.captured,
    previous.reversed,
    previous.net,
    previous.difference,
    previous.n_charges,
    previous.created_at,
    previous.category,
    previous.is_break,
    previous.is_within_grace,
    previous.source_updated_at,
    previous.payments_updated_at,
    previous.payments_count,
    previous.payments_updated_at_sum,
    previous.classified_as_of,
    previous.classified_tolerance,
    previous.classified_grace_minutes,
    true as is_deleted
from {{ this }} as previous
-- The keys are found first from narrow columns, then only those rows are read in full.
where previous.item_key in (
    select stored.item_key
    from {{ this }} as stored
    where stored.item_type = 'order'
      and not exists (select 1 from current_orders where current_orders.order_id = stored.order_id)
    union all
    select stored.item_key
    from {{ this }} as stored
    where stored.item_type = 'payment'
      and not exists (select 1 from unmatched_payments where unmatched_payments.payment_id = stored.payment_id)
)

{% endif %}
