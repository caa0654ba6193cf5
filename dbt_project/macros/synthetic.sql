{% macro is_synthetic(order_id, payment_id) -%}
    {#-
    True for a correctness-prober item (finance_recon/probe/): an order_id in the reserved range or
    a payment_id with the reserved prefix. The values are finance_recon/contracts.py's
    PROBE_ORDER_ID_MIN and PROBE_PAYMENT_ID_PREFIX (dbt cannot import them; tests/probe proves they
    agree). Synthetic items are classified like any other and excluded from every total and break.
      order_id, payment_id: column expressions (either may be NULL).
    -#}
    (coalesce({{ order_id }} >= 9000000000000000, false) or coalesce({{ payment_id }} like 'probe-%', false))
{%- endmacro %}
