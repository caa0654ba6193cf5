{#- The maintained state's dirty keys (models/state/int_reconciliation_items.sql): which orders and
    payments a build re-classifies, and whether it must re-classify everything. Its header says
    what makes a row dirty; these macros hold the SQL once.

    DuckDB computes each CTE once where the model marks it (computed_once()). Trino inlines a CTE
    at every use: the dirty keys, read ~10 times over, made the state's one statement plan ~400
    stages and take longer than a full rebuild (docs/benchmarks.md). On Trino a pre-hook therefore
    writes them to a table beside the state first (`<state>__dirty_keys`), the model reads that
    table, and a post-hook drops it. -#}

{% macro dirty_keys_ctes(change_log, state_builds, grace_cutoff) -%}
last_build as (

    select as_of, consumed_change_batch
    from {{ state_builds }}
    order by seq desc
    limit 1

),

pending_changes as (

    select changes.order_id, changes.payment_id, changes.full_refresh
    from {{ change_log }} as changes
    where changes.change_batch > coalesce((select consumed_change_batch from last_build), -1)

),

rebuild_all as (

    select
        (select count(*) from last_build) = 0
        or exists (select 1 from pending_changes where full_refresh)
        or (select as_of from last_build) > {{ as_of_ts() }}
        or exists (
            select 1 from {{ this }} as previous
            where previous.classified_tolerance <> {{ tolerance() }}
               or previous.classified_grace_minutes <> {{ grace_minutes() }}
        ) as yes

),

dirty_order_ids as (

    select order_id from pending_changes where order_id is not null
    union
    -- newly considered: created after the last build's as_of, by this one's (staging filters ≤ as_of)
    select order_id from {{ ref('stg_shop__orders') }}
    where created_at > (select as_of from last_build)
    union
    select order_id from {{ ref('stg_payments__payments') }}
    where created_at > (select as_of from last_build) and order_id is not null
    union
    select previous.order_id from {{ this }} as previous
    where previous.item_type = 'order' and previous.is_within_grace and previous.created_at < {{ grace_cutoff }}
    union
    select all_orders.order_id from {{ ref('stg_shop__orders') }} as all_orders
    where (select yes from rebuild_all)

),

dirty_payment_ids as (

    select payment_id from pending_changes where payment_id is not null
    union
    select payment_id from {{ ref('stg_payments__payments') }}
    where created_at > (select as_of from last_build)
       or order_id in (select order_id from dirty_order_ids)
       or (select yes from rebuild_all)
    union
    select previous.payment_id from {{ this }} as previous
    where previous.item_type = 'payment' and previous.is_within_grace and previous.created_at < {{ grace_cutoff }}

)
{%- endmacro %}

{% macro dirty_keys(change_log, state_builds, grace_cutoff) -%}
    {#- The CTEs `rebuild_all` (one row, `yes`), `dirty_order_ids` and `dirty_payment_ids`. -#}
    {{- return(adapter.dispatch('dirty_keys', 'finance_recon')(change_log, state_builds, grace_cutoff)) -}}
{%- endmacro %}

{% macro default__dirty_keys(change_log, state_builds, grace_cutoff) -%}
{{ dirty_keys_ctes(change_log, state_builds, grace_cutoff) }}
{%- endmacro %}

{% macro trino__dirty_keys(change_log, state_builds, grace_cutoff) -%}
rebuild_all as (

    select count(*) > 0 as yes from {{ dirty_keys_relation() }} where kind = 'rebuild_all'

),

dirty_order_ids as (

    select order_id from {{ dirty_keys_relation() }} where kind = 'order'

),

dirty_payment_ids as (

    select payment_id from {{ dirty_keys_relation() }} where kind = 'payment'

)
{%- endmacro %}

{% macro dirty_keys_relation() -%}
    {{- return(api.Relation.create(database=this.database, schema=this.schema,
                                   identifier=this.identifier ~ '__dirty_keys', type='table')) -}}
{%- endmacro %}

{% macro materialize_dirty_keys() -%}
    {#- Pre-hook of the state: on Trino, when the build goes by changes, the dirty keys as a table. -#}
    {{- return(adapter.dispatch('materialize_dirty_keys', 'finance_recon')()) -}}
{%- endmacro %}

{% macro default__materialize_dirty_keys() -%}
{%- endmacro %}

{% macro trino__materialize_dirty_keys() -%}
    {%- set plan = state_build_plan() if execute else {} -%}
    {%- if not plan.get('by_changes') -%}
        {{- return('') -}}
    {%- endif -%}
create or replace table {{ dirty_keys_relation() }} as
with
{{ dirty_keys_ctes(plan.change_log, plan.state_builds, plan.grace_cutoff) }}
select 'rebuild_all' as kind, cast(null as bigint) as order_id, cast(null as varchar) as payment_id
from rebuild_all where yes
union all
select 'order', order_id, cast(null as varchar) from dirty_order_ids
union all
select 'payment', cast(null as bigint), payment_id from dirty_payment_ids
{%- endmacro %}

{% macro drop_dirty_keys() -%}
    {#- Post-hook of the state: the dirty keys' table is this build's only. -#}
    {{- return(adapter.dispatch('drop_dirty_keys', 'finance_recon')()) -}}
{%- endmacro %}

{% macro default__drop_dirty_keys() -%}
{%- endmacro %}

{% macro trino__drop_dirty_keys() -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
drop table if exists {{ dirty_keys_relation() }}
    {%- endif -%}
{%- endmacro %}
