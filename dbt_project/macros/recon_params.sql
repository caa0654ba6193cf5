{#-
  The run parameters of contracts §2 (as_of, τ, G).

  Two ways in, so that a production run never invalidates the prepared manifest:
  - Production (the Dagster step): no --vars. The platform appends one row per run to
    control.run_parameters before `dbt build`, and the models read the newest row
    (run_parameter('as_of') …). Passing new --vars on every run would force dbt to re-parse the
    whole project ("config vars have changed"); a table keeps the manifest and partial parse
    valid, and keeps every run's parameters in the warehouse.
  - Ad hoc, unit tests and engines without the table (Spark session): --vars as_of/tolerance/
    grace_minutes, validated here before they reach SQL, so a malformed value fails compilation
    with a message rather than producing a wrong (or injected) literal.
  The placeholder as_of of dbt_project.yml selects the table.
-#}

{% macro params_from_table() -%}
    {{- return((var('as_of') | string).startswith('9999-')) -}}
{%- endmacro %}

{% macro run_parameter(column) -%}
    {#- One column of the newest row of control.run_parameters, as a scalar subquery. -#}
    {#- Not a dbt source on purpose: the table is written by the same Dagster step that runs dbt
        (finance_recon/reconciliation/parameters.py), so it is no upstream asset of its own.
        Columns: seq (increasing; the newest row is the run's), run_id, as_of TIMESTAMPTZ,
        tolerance DECIMAL(18,6), grace_minutes INTEGER, written_at. -#}
    {%- set relation = control_relation('run_parameters') -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
            {{ exceptions.raise_compiler_error("var 'as_of' is required for dbt " ~ flags.WHICH ~ ": pass --vars '{as_of: 2026-11-28T18:00:00+00:00}', or write the run's row into control.run_parameters first (the platform does before every run)") }}
        {%- endif -%}
    {%- endif -%}
    {{- return(adapter.dispatch('run_parameter_value', 'finance_recon')(relation, column)) -}}
{%- endmacro %}

{% macro default__run_parameter_value(relation, column) -%}
    (select {{ column }} from {{ relation }} order by seq desc limit 1)
{%- endmacro %}

{% macro trino__run_parameter_value(relation, column) -%}
    {#- Trino: the newest row's value, read once when the node compiles and inlined as a typed literal.
        As a scalar subquery it is a plan stage of its own wherever it appears, and the maintained
        state (which names as_of, τ and G in many places) then exceeds Trino's limit of 150 stages
        per query (769 were planned). The row is written before dbt starts, so the value is the
        run's; outside run/build (parse, compile) a placeholder of the same type stands in. -#}
    {%- set types = {'as_of': 'timestamp(6) with time zone', 'tolerance': 'decimal(18, 6)',
                     'grace_minutes': 'integer', 'seq': 'bigint', 'run_id': 'varchar'} -%}
    {%- set placeholders = {'as_of': '9999-12-31 00:00:00.000000 UTC', 'tolerance': '0',
                            'grace_minutes': '0', 'seq': '0', 'run_id': ''} -%}
    {%- set text = placeholders[column] -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- set result = run_query('select cast(' ~ column ~ ' as varchar) from ' ~ relation ~ ' order by seq desc limit 1') -%}
        {%- set text = result.columns[0].values()[0] -%}
    {%- endif -%}
    cast('{{ text }}' as {{ types[column] }})
{%- endmacro %}

{% macro as_of_ts() -%}
    {#- The cut-off `as_of` as a UTC timestamp with time zone (engine syntax: see _as_of_literal). -#}
    {%- if params_from_table() -%}
        {{- return(run_parameter('as_of')) -}}
    {%- endif -%}
    {%- set raw = var('as_of') | string -%}
    {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$', raw) -%}
        {{ exceptions.raise_compiler_error("var 'as_of' must be an ISO-8601 timestamp with an offset, e.g. 2026-11-28T18:00:00+00:00; got '" ~ raw ~ "'") }}
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
    {#- τ as an exact decimal (never a float): a non-negative decimal string. -#}
    {%- if params_from_table() -%}
        {{- return(run_parameter('tolerance')) -}}
    {%- endif -%}
    {%- set raw = var('tolerance') | string -%}
    {%- if not modules.re.match('^\d{1,12}(\.\d{1,6})?$', raw) -%}
        {{ exceptions.raise_compiler_error("var 'tolerance' must be a non-negative decimal string such as '0.01'; got '" ~ raw ~ "'") }}
    {%- endif -%}
    cast('{{ raw }}' as decimal(18, 6))
{%- endmacro %}


{% macro grace_minutes() -%}
    {#- G in whole minutes, as an integer. -#}
    {%- if params_from_table() -%}
        {{- return(run_parameter('grace_minutes')) -}}
    {%- endif -%}
    {%- set raw = var('grace_minutes') | string -%}
    {%- if not modules.re.match('^\d{1,9}$', raw) -%}
        {{ exceptions.raise_compiler_error("var 'grace_minutes' must be a non-negative integer; got '" ~ raw ~ "'") }}
    {%- endif -%}
    {{ raw | int }}
{%- endmacro %}
