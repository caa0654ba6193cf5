{#-
  The staging of the landed contract tables (contracts §1 → the names the rules use), as macros over
  a relation with the landing columns: the staging models apply them to the whole landing table;
  the maintained state applies them to the few landed rows a run changed, which it selects from
  the landing table first (models/state/int_reconciliation_items.sql says why).
-#}

{% macro stage_orders(landed) -%}
    {#- Orders as of the cut-off: every order created at or before as_of, `status` as `order_status`. -#}
    select
        -- ids
        order_id,
        customer_id,

        -- attributes
        status as order_status,
        currency,

        -- amounts
        cast(total_amount as decimal(18, 2)) as total_amount,

        -- timestamps
        created_at,
        updated_at

    from {{ landed }}
    where created_at <= {{ as_of_ts() }}
{%- endmacro %}


{% macro stage_payments(landed) -%}
    {#- Payments as of the cut-off: every payment created at or before as_of, whatever its status;
        `kind`/`status` as `payment_kind`/`payment_status`. -#}
    select
        -- ids
        payment_id,
        order_id,

        -- attributes
        provider,
        kind as payment_kind,
        status as payment_status,
        currency,

        -- amounts
        cast(amount as decimal(18, 2)) as amount,

        -- timestamps
        created_at,
        updated_at

    from {{ landed }}
    where created_at <= {{ as_of_ts() }}
{%- endmacro %}
