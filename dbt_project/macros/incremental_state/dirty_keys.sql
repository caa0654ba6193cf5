{#-
  Which items a build by changes re-classifies (plan.sql decides whether a build goes by changes).
  An item's category depends on its order, that order's payments, and time. An order is dirty,
  and with it every payment naming it, when
    - the extraction landed a version of it, or of one of its payments, since the last build: the
      landing's change log (landing._changed_keys, written by finance_recon/sources/landing.py in
      the same transaction as the upsert) names, for every landed row, its keys before and after,
      so a payment moved from order A to order B makes both dirty;
    - it became considered: created after the last build's as_of, by this one's (the order itself,
      or a payment naming it: the staging models leave out what was created later);
    - it was classified inside the grace window and its created_at has now left it (the only
      change that time alone makes).
  A payment is dirty when it was landed or became considered since the last build, when it names
  a dirty order (the order's arrival can match it), or when its own grace window ran out.

  A pre-hook writes the keys to a table beside the state (`<state>__dirty_keys`) and a post-hook
  drops it. The model reads them several times, and Trino, which inlines a CTE at every use,
  evaluated them ~10 times inside the state's one statement (a build with nothing new then took
  longer than a full one).
-#}

{% macro dirty_keys_relation() -%}
    {{- return(api.Relation.create(database=this.database, schema=this.schema,
                                   identifier=this.identifier ~ '__dirty_keys', type='table')) -}}
{%- endmacro %}

{% macro dirty_order_ids() -%}
    (select order_id from {{ dirty_keys_relation() }} where kind = 'order')
{%- endmacro %}

{% macro dirty_payment_ids() -%}
    (select payment_id from {{ dirty_keys_relation() }} where kind = 'payment')
{%- endmacro %}


{% macro write_dirty_keys() -%}
    {#- Pre-hook of the state. A build that does not go by changes drops a table a killed build may
        have left, so that nothing reads stale keys. -#}
    {%- if not (execute and state_is_maintained()) -%}
        {{- return('') -}}
    {%- endif -%}
    {%- if not incremental_state_plan().by_changes -%}
        {{- return('drop table if exists ' ~ dirty_keys_relation()) -}}
    {%- endif -%}
create or replace table {{ dirty_keys_relation() }} as

with

last_build as (
    {{ last_state_build(control_relation('state_builds')) }}
),

landed_since_last_build as (

    select order_id, payment_id
    from {{ change_log_relation() }}
    where change_batch > (select consumed_change_batch from last_build)

),

dirty_orders as (

    select order_id from landed_since_last_build where order_id is not null
    union
    select order_id from {{ ref('stg_shop__orders') }}
    where created_at > (select as_of from last_build)
    union
    select order_id from {{ ref('stg_payments__payments') }}
    where created_at > (select as_of from last_build) and order_id is not null
    union
    select order_id from {{ this }}
    where item_type = 'order' and is_within_grace and created_at < {{ grace_window_start() }}

),

dirty_payments as (

    select payment_id from landed_since_last_build where payment_id is not null
    union
    select payment_id from {{ ref('stg_payments__payments') }}
    where created_at > (select as_of from last_build)
       or order_id in (select order_id from dirty_orders)
    union
    select payment_id from {{ this }}
    where item_type = 'payment' and is_within_grace and created_at < {{ grace_window_start() }}

)

select 'order' as kind, order_id, cast(null as varchar) as payment_id from dirty_orders
union all
select 'payment' as kind, cast(null as bigint) as order_id, payment_id from dirty_payments
{%- endmacro %}

{% macro drop_dirty_keys() -%}
    {#- Post-hook of the state: the keys are this build's only. -#}
    {%- if not (execute and state_is_maintained()) -%}
        {{- return('') -}}
    {%- endif -%}
drop table if exists {{ dirty_keys_relation() }}
{%- endmacro %}
