{#-
  The run parameters of contracts §2 (as_of, τ, G) as SQL literals.

  Values come from dbt vars and are validated here, before they reach SQL: a malformed value
  fails compilation with a message rather than producing a wrong (or injected) literal.
-#}

{% macro as_of_ts() -%}
    {#- The cut-off `as_of` as a UTC timestamp-with-time-zone literal (engine syntax: see _as_of_literal). -#}
    {%- set raw = var('as_of') | string -%}
    {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$', raw) -%}
        {{ exceptions.raise_compiler_error("var 'as_of' must be an ISO-8601 timestamp with an offset, e.g. 2026-11-28T18:00:00+00:00; got '" ~ raw ~ "'") }}
    {%- endif -%}
    {%- if execute and raw.startswith('9999-') and flags.WHICH in ('run', 'build') -%}
        {{ exceptions.raise_compiler_error("var 'as_of' is required for dbt " ~ flags.WHICH ~ ": pass --vars '{as_of: 2026-11-28T18:00:00+00:00}' (the default is a parse-only placeholder)") }}
    {%- endif -%}
    {{- return(adapter.dispatch('as_of_literal', 'finance_recon')(raw)) -}}
{%- endmacro %}

{% macro default__as_of_literal(iso_string) -%}
    cast('{{ iso_string }}' as timestamp with time zone)
{%- endmacro %}

{% macro duckdb__as_of_literal(iso_string) -%}
    {#- DuckDB: a plain cast parses ISO-8601 with 'T' and an offset into TIMESTAMPTZ (microseconds). -#}
    cast('{{ iso_string }}' as timestamptz)
{%- endmacro %}

{% macro trino__as_of_literal(iso_string) -%}
    {#- Trino: CAST(varchar AS timestamp with time zone) expects 'YYYY-MM-DD hh:mm:ss zone', not
        ISO-8601's 'T' form, and from_iso8601_timestamp keeps only milliseconds; the _nanos variant
        keeps every digit, then we settle on microseconds like the sources. -#}
    cast(from_iso8601_timestamp_nanos('{{ iso_string }}') as timestamp(6) with time zone)
{%- endmacro %}


{% macro tolerance() -%}
    {#- τ as an exact decimal literal (never a float): a non-negative decimal string. -#}
    {%- set raw = var('tolerance') | string -%}
    {%- if not modules.re.match('^\d{1,12}(\.\d{1,6})?$', raw) -%}
        {{ exceptions.raise_compiler_error("var 'tolerance' must be a non-negative decimal string such as '0.01'; got '" ~ raw ~ "'") }}
    {%- endif -%}
    cast('{{ raw }}' as decimal(18, 6))
{%- endmacro %}


{% macro grace_minutes() -%}
    {#- G in whole minutes, as an integer literal. -#}
    {%- set raw = var('grace_minutes') | string -%}
    {%- if not modules.re.match('^\d{1,9}$', raw) -%}
        {{ exceptions.raise_compiler_error("var 'grace_minutes' must be a non-negative integer; got '" ~ raw ~ "'") }}
    {%- endif -%}
    {{ raw | int }}
{%- endmacro %}
