{#-
  Where DuckDB and Trino disagree, behind adapter.dispatch (default__/duckdb__/trino__; Spark's are
  in macros/spark/). Each implementation's docstring names the quirk it works around. Models never
  branch on the target: they call these. (The run parameters' literals: macros/run_parameters.sql.)
-#}

{% macro md5_hex(expr) -%}
    {#- Lowercase hex md5 of a varchar: the stable break_id of contracts §2. -#}
    {{- return(adapter.dispatch('md5_hex', 'finance_recon')(expr)) -}}
{%- endmacro %}

{% macro default__md5_hex(expr) -%}
    md5({{ expr }})
{%- endmacro %}

{% macro duckdb__md5_hex(expr) -%}
    {#- DuckDB: md5(varchar) already returns the lowercase hex digest as VARCHAR. -#}
    md5({{ expr }})
{%- endmacro %}

{% macro trino__md5_hex(expr) -%}
    {#- Trino: md5 takes and returns VARBINARY, so encode to UTF-8 first and hex-encode after;
        to_hex is upper case, and the id must match DuckDB's byte for byte. -#}
    lower(to_hex(md5(to_utf8({{ expr }}))))
{%- endmacro %}


{% macro add_minutes(timestamp_expr, minutes_expr) -%}
    {#- timestamp + N minutes, exact to the microsecond (N may be negative). A negative N is written
        `0 - n`, not `-n`: in a view, Trino 476 refuses a unary minus applied to a scalar subquery
        ("Query does not round-trip": its formatter prints it in a form that parses differently). -#}
    {{- return(adapter.dispatch('add_minutes', 'finance_recon')(timestamp_expr, minutes_expr)) -}}
{%- endmacro %}

{% macro default__add_minutes(timestamp_expr, minutes_expr) -%}
    ({{ timestamp_expr }} + ({{ minutes_expr }}) * interval '1' minute)
{%- endmacro %}

{% macro duckdb__add_minutes(timestamp_expr, minutes_expr) -%}
    {#- DuckDB: an INTERVAL literal takes a constant, not an expression; to_minutes(BIGINT) builds
        the interval from one (Trino has no to_minutes). -#}
    ({{ timestamp_expr }} + to_minutes(cast({{ minutes_expr }} as bigint)))
{%- endmacro %}

{% macro trino__add_minutes(timestamp_expr, minutes_expr) -%}
    {#- Trino: no to_minutes(); date_add(unit, value, ts) takes an expression and keeps the
        timestamp's precision and zone. -#}
    date_add('minute', {{ minutes_expr }}, {{ timestamp_expr }})
{%- endmacro %}


{% macro whole_minutes_between(start_expr, end_expr) -%}
    {#- Complete minutes from start to end (truncated, as an integer): the item's age_minutes. -#}
    {{- return(adapter.dispatch('whole_minutes_between', 'finance_recon')(start_expr, end_expr)) -}}
{%- endmacro %}

{% macro default__whole_minutes_between(start_expr, end_expr) -%}
    datediff('minute', {{ start_expr }}, {{ end_expr }})
{%- endmacro %}

{% macro duckdb__whole_minutes_between(start_expr, end_expr) -%}
    {#- DuckDB: date_diff counts minute *boundaries* crossed (16:59:59 → 17:00:00 is 1);
        date_sub counts complete minutes elapsed, which is what an age is. -#}
    date_sub('minute', {{ start_expr }}, {{ end_expr }})
{%- endmacro %}

{% macro trino__whole_minutes_between(start_expr, end_expr) -%}
    {#- Trino: date_diff already counts complete units elapsed (truncating), unlike DuckDB's. -#}
    date_diff('minute', {{ start_expr }}, {{ end_expr }})
{%- endmacro %}


{% macro money(expr) -%}
    {#- Every amount leaves the models as DECIMAL(38,2): wide enough for any sum of DECIMAL(18,2)
        (both engines widen SUM to precision 38), never a float. Same syntax on both engines. -#}
    cast({{ expr }} as decimal(38, 2))
{%- endmacro %}


{% macro stored_money(expr) -%}
    {#- An amount of one item as the maintained state stores it: DECIMAL(18,2), the sources' own
        precision (an item's amount is one order or the sum of its few payments). Not DECIMAL(38,2):
        DuckDB stores 38-digit decimals as 128-bit integers, and scanning them is ~40× slower than
        64-bit ones (1M rows: 0.64 s against 0.02 s per column, measured 2026-12-02), which every
        run pays when it reads the state. The marts widen them back with money(). -#}
    cast({{ expr }} as decimal(18, 2))
{%- endmacro %}


{% macro sorted_string_agg(expr, distinct=false) -%}
    {#- The values of `expr` in a group, sorted and ';'-joined (the evidence columns of contracts §2),
        NULL when the group has no non-NULL value; with distinct, each value once. Deterministic, so
        a rerun gives the same string. -#}
    {{- return(adapter.dispatch('sorted_string_agg', 'finance_recon')(expr, distinct)) -}}
{%- endmacro %}

{% macro default__sorted_string_agg(expr, distinct) -%}
    {#- Standard SQL: an ordered listagg (dbt.listagg) over the (distinct) values. -#}
    {{ dbt.listagg(('distinct ' if distinct else '') ~ expr, "';'", 'order by ' ~ expr) }}
{%- endmacro %}

{% macro duckdb__sorted_string_agg(expr, distinct) -%}
    {#- DuckDB: an ordered aggregate (string_agg(x, ';' ORDER BY x)) sorts inside every group and
        cannot share the hash aggregate with the other sums: the three evidence columns cost
        3.6-4.3 s per 1M orders that way, against 0.6-0.7 s as a plain list() sorted afterwards in
        the same GROUP BY as the amounts (measured 2026-12-07). list_distinct drops NULLs. -#}
    case when count({{ expr }}) > 0 then
        array_to_string(list_sort({% if distinct %}list_distinct({% endif %}list({{ expr }}){% if distinct %}){% endif %}), ';')
    end
{%- endmacro %}

{% macro trino__sorted_string_agg(expr, distinct) -%}
    {#- Trino: array_agg keeps NULLs and array_join omits them; an empty group must stay NULL. -#}
    case when count({{ expr }}) > 0 then
        array_join(array_sort({% if distinct %}array_distinct({% endif %}array_agg({{ expr }}){% if distinct %}){% endif %}), ';')
    end
{%- endmacro %}
