-- One row per reconciliation item as of the run's cut-off: every considered order, plus every
-- succeeded payment that names no considered order, with its category and age. Breaks are the rows
-- whose category is not matched, open or in_flight; break_id hashes the item key only, so it
-- survives a category change.
-- A view over int_reconciliation_items: an item's age changes with time alone, so it is derived
-- here, when queried, from created_at and the cut-off the state is current at (state_as_of(): a run
-- that finds nothing dirty moves that cut-off without rebuilding anything). Amounts leave as
-- DECIMAL(38,2) (money); the items are kept as DECIMAL(18,2) (stored_money).

{{ config(materialized='view') }}

with items as (

    select * from {{ ref('int_reconciliation_items') }}

),

cut_off as (

    select {{ state_as_of() }} as as_of

),

aged as (

    select
        items.*,
        {{ whole_minutes_between("items.created_at", "cut_off.as_of") }} as age_minutes
    from items
    cross join cut_off

)

select
    item_key,
    item_type,
    break_id,
    order_id,
    payment_id,
    customer_id,
    payment_ids,
    payment_currencies,
    providers,
    order_status,
    currency,
    {{ money('expected') }} as expected,
    {{ money('captured') }} as captured,
    {{ money('reversed') }} as reversed,
    {{ money('net') }} as net,
    {{ money('difference') }} as difference,
    n_charges,
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
    is_break,
    -- A correctness-prober item (macros/synthetic.sql): classified, never in Finance's figures.
    {{ is_synthetic('order_id', 'payment_id') }} as is_synthetic,
    -- The run that last classified the item: the data tests look at the items classified since the
    -- last build whose tests all passed (dbt_project.yml).
    classified_seq
from aged
