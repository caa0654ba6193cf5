-- The maintained reconciliation state: one row per item (every considered order, plus every
-- succeeded payment that names no considered order), classified by the rules of macros/rules.sql,
-- with what it was classified from. Incremental: a run re-classifies only the dirty items and
-- carries every other row forward (docs/engines.md). Dirty are:
--   - orders and payments the extraction landed since the state was last built: the landing's
--     change log (landing._changed_keys, written by finance_recon/sources/landing.py in the same
--     transaction as the upsert) names, for every landed row, its keys before and after, so an
--     order is dirty when it changed, when one of its payments changed, and when a payment moved
--     away from it;
--   - orders and payments newly considered because as_of moved past their created_at;
--   - the payments naming a dirty order (the order's arrival can match them);
--   - items classified inside the grace window whose created_at has now left it (their category
--     depends on time);
--   - everything, when τ or G differ from the stored rows', as_of went back in time, an extraction
--     replaced its whole table (full refresh), the stored state predates this model's columns, or
--     the change log or the record of the last build is missing (ad hoc --vars runs).
-- Only the dirty rows enter the rules (the same macros the intermediate models apply to all rows),
-- so a run with nothing new reads the change log, a few narrow columns and no payments in full.
-- A stored item that is dirty and no longer exists is merged as a tombstone (is_deleted) and removed.
-- Values that change with time alone (age_minutes, age_bucket) are not stored: the view
-- fct_reconciliation_items derives them from created_at and the run's as_of.
-- classified_seq names the run that classified the row: the production data tests look only at
-- rows classified since the last build whose tests passed (macros/changed_rows.sql).
-- A post-hook records the build (control.state_builds: the run, its as_of, the last change
-- consumed) and drops the consumed part of the change log, in the merge's transaction.

-- depends_on: {{ source('landing', 'orders') }}, {{ source('landing', 'payments') }}

{%- set incremental_engine = target.type in ('duckdb', 'trino') %}
{%- set is_break = 'category not in (' ~ settled_categories() ~ ')' %}
{#- How this build goes (macros/state.sql, state_build_plan; the Trino pre-hook decides the same way):
    merging: the stored state exists, so rows no longer present need tombstones.
    by_changes: only the dirty rows are classified (else every row is, and merged); it needs the
    platform's control tables, so the parameters come from control.run_parameters.
    grace_cutoff: an item created before this instant is outside the grace window as of this run. #}
{%- set plan = state_build_plan() %}
{%- set merging, stored_columns, by_changes = plan.merging, plan.stored_columns, plan.by_changes %}
{%- set change_log, state_builds, grace_cutoff = plan.change_log, plan.state_builds, plan.grace_cutoff %}

{{ config(
    materialized=('incremental' if incremental_engine else 'table'),
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
    pre_hook=["{{ materialize_dirty_keys() }}"],
    post_hook=(["delete from {{ this }} where is_deleted"] if target.type == 'trino' else [])
        + ["{{ record_state_build() }}", "{{ prune_change_log() }}", "{{ drop_dirty_keys() }}"],
) }}

with

{% if by_changes %}

{{ dirty_keys(change_log, state_builds, grace_cutoff) }},

{% endif %}

-- The rules' inputs: the dirty rows only (every row when not by_changes), staged as the staging
-- models stage every row (macros/staging.sql).
{% if by_changes %}
-- The dirty rows are looked up by key in the landing tables first (computed_once()), then staged:
-- looked up in the staging views, whose as_of filter DuckDB cannot estimate, they made it hash the
-- whole filtered landing table instead of the few keys.
dirty_landed_orders as {{ computed_once() }} (
    select * from {{ source('landing', 'orders') }}
    where order_id in (select order_id from dirty_order_ids)
),

orders_input as (
    {{ stage_orders('dirty_landed_orders') }}
),

dirty_landed_payments_of_orders as {{ computed_once() }} (
    select * from {{ source('landing', 'payments') }}
    where order_id in (select order_id from dirty_order_ids)
),

payments_of_orders_input as (
    {{ stage_payments('dirty_landed_payments_of_orders') }}
),

dirty_landed_payments as {{ computed_once() }} (
    select * from {{ source('landing', 'payments') }}
    where payment_id in (select payment_id from dirty_payment_ids)
),

payments_input as (
    {{ stage_payments('dirty_landed_payments') }}
),

-- the considered orders these payments name: enough to tell matched from unmatched
named_landed_orders as {{ computed_once() }} (
    select * from {{ source('landing', 'orders') }}
    where order_id in (select order_id from payments_input)
),

named_orders_input as (
    {{ stage_orders('named_landed_orders') }}
),
{% else %}
-- A full build reads every row where it is used (inlined()), not copied once into a temporary
-- result of every row first.
orders_input as {{ inlined() }} (
    select * from {{ ref('stg_shop__orders') }}
),

payments_of_orders_input as {{ inlined() }} (
    select * from {{ ref('stg_payments__payments') }}
),

payments_input as {{ inlined() }} (
    select * from {{ ref('stg_payments__payments') }}
),

named_orders_input as {{ inlined() }} (
    select * from {{ ref('stg_shop__orders') }}
),
{% endif %}

payments_by_order as (
    {{ aggregate_payments_to_orders('orders_input', 'payments_of_orders_input') }}
),

classified_orders as {{ '' if by_changes else inlined() }} (
    {{ classify_orders('orders_input', 'payments_by_order') }}
),

classified_payments as (
    {{ unmatched_payments('payments_input', 'named_orders_input') }}
),

evidence_of_orders as (
    {{ order_evidence('classified_orders', 'payments_of_orders_input') }}
),

fresh as (

    select
        'order:' || cast(classified_orders.order_id as {{ dbt.type_string() }}) as item_key,
        'order' as item_type,
        classified_orders.order_id,
        cast(null as {{ dbt.type_string() }}) as payment_id,
        classified_orders.customer_id,
        evidence_of_orders.payment_ids,
        evidence_of_orders.payment_currencies,
        evidence_of_orders.providers,
        classified_orders.order_status,
        classified_orders.currency,
        classified_orders.expected,
        classified_orders.captured,
        classified_orders.reversed,
        classified_orders.net,
        classified_orders.difference,
        classified_orders.n_charges,
        classified_orders.created_at,
        classified_orders.is_within_grace,
        classified_orders.category,
        classified_orders.updated_at as source_updated_at
    from classified_orders
    left join evidence_of_orders
        on classified_orders.order_id = evidence_of_orders.order_id

    union all

    select
        'payment:' || payment_id as item_key,
        'payment' as item_type,
        order_id,
        payment_id,
        cast(null as bigint) as customer_id,
        payment_ids,
        payment_currencies,
        providers,
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
        updated_at as source_updated_at
    from classified_payments

),

items as (

    select
        item_key,
        item_type,
        {{ md5_hex('item_key') }} as break_id,
        order_id,
        payment_id,
        cast(customer_id as bigint) as customer_id,
        -- evidence on breaks only (macros/rules.sql, order_evidence)
        cast(case when {{ is_break }} then payment_ids end as {{ dbt.type_string() }}) as payment_ids,
        cast(case when {{ is_break }} then payment_currencies end as {{ dbt.type_string() }}) as payment_currencies,
        cast(case when {{ is_break }} then providers end as {{ dbt.type_string() }}) as providers,
        order_status,
        currency,
        {{ stored_money('expected') }} as expected,
        {{ stored_money('captured') }} as captured,
        {{ stored_money('reversed') }} as reversed,
        {{ stored_money('net') }} as net,
        {{ stored_money('difference') }} as difference,
        cast(n_charges as integer) as n_charges,
        created_at,
        category,
        {{ is_break }} as is_break,
        is_within_grace,
        source_updated_at,
        {{ as_of_ts() }} as classified_as_of,
        {{ tolerance() }} as classified_tolerance,
        {{ grace_minutes() }} as classified_grace_minutes,
        {{ run_seq() }} as classified_seq,
        false as is_deleted
    from fresh

)

select * from items

{% if merging %}

union all

-- Tombstones: stored items that were re-examined (all of them on a rebuild) and no longer
-- exist: an order no longer considered, a payment item whose payment is now matched, no longer
-- succeeded or no longer considered.
select
    previous.item_key,
    previous.item_type,
    previous.break_id,
    previous.order_id,
    previous.payment_id,
    {%- if 'payment_ids' in stored_columns %}
    previous.customer_id,
    previous.payment_ids,
    previous.payment_currencies,
    previous.providers,
    {%- else %}
    cast(null as bigint) as customer_id,
    cast(null as {{ dbt.type_string() }}) as payment_ids,
    cast(null as {{ dbt.type_string() }}) as payment_currencies,
    cast(null as {{ dbt.type_string() }}) as providers,
    {%- endif %}
    previous.order_status,
    previous.currency,
    {{ stored_money('previous.expected') }} as expected,
    {{ stored_money('previous.captured') }} as captured,
    {{ stored_money('previous.reversed') }} as reversed,
    {{ stored_money('previous.net') }} as net,
    {{ stored_money('previous.difference') }} as difference,
    previous.n_charges,
    previous.created_at,
    previous.category,
    previous.is_break,
    previous.is_within_grace,
    previous.source_updated_at,
    previous.classified_as_of,
    previous.classified_tolerance,
    previous.classified_grace_minutes,
    cast(null as bigint) as classified_seq,
    true as is_deleted
from {{ this }} as previous
-- The keys are found first from narrow columns, then only those rows are read in full.
where previous.item_key in (
    select stored.item_key
    from {{ this }} as stored
    where stored.item_type = 'order'
      {% if by_changes %}and ((select yes from rebuild_all) or stored.order_id in (select order_id from dirty_order_ids)){% endif %}
      and not exists (select 1 from classified_orders where classified_orders.order_id = stored.order_id)
    union all
    select stored.item_key
    from {{ this }} as stored
    where stored.item_type = 'payment'
      {% if by_changes %}and ((select yes from rebuild_all) or stored.payment_id in (select payment_id from dirty_payment_ids)){% endif %}
      and not exists (select 1 from classified_payments where classified_payments.payment_id = stored.payment_id)
)

{% endif %}
