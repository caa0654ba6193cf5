{#- Small helpers the reconciliation's rules share (the rules themselves are in the model bodies:
    models/intermediate/int_reconciliation_items.sql, contracts §2). -#}

{% macro settled_categories() -%}
    {#- The categories that are not breaks (contracts §2), as a SQL list: is_break is `category not in
        (...)`. finance_recon.contracts.NON_BREAK_CATEGORIES is the same list (tests/test_names.py). -#}
    'matched', 'open', 'in_flight'
{%- endmacro %}

{% macro grace_window_start() -%}
    {#- as_of − G: an item created at or after this instant is at most G old, so still within the
        grace window (compared on exact timestamps, never truncated minutes: G + 1 µs is late). -#}
    {{- return(add_minutes(as_of(), '0 - ' ~ grace_minutes())) -}}
{%- endmacro %}
