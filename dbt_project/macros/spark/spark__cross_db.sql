{#-
  Spark SQL implementations of the project's dispatched macros (macros/cross_db.sql,
  macros/run_parameters.sql), for dbt-spark (`session` method locally, a Thrift server on a cluster).
  Each docstring names the Spark quirk it works around. Models never branch on target.
-#}

{% macro spark__md5_hex(expr) -%}
    {#- Spark: md5(string) hashes the UTF-8 bytes and returns the lowercase hex digest as STRING,
        byte-for-byte what DuckDB's md5(varchar) returns. -#}
    md5(cast({{ expr }} as string))
{%- endmacro %}


{% macro spark__add_minutes(timestamp_expr, minutes_expr) -%}
    {#- Spark: `interval '1' minute * expr` works but widens to an ANSI interval; timestampadd takes
        an expression and keeps microseconds exactly. -#}
    timestampadd(MINUTE, {{ minutes_expr }}, {{ timestamp_expr }})
{%- endmacro %}


{% macro spark__whole_minutes_between(start_expr, end_expr) -%}
    {#- Spark: datediff(a, b) counts *days*; timestampdiff(MINUTE, start, end) counts complete
        minutes elapsed, truncating (16:59:59 → 17:00:00 is 0), like DuckDB's date_sub. -#}
    timestampdiff(MINUTE, {{ start_expr }}, {{ end_expr }})
{%- endmacro %}


{% macro spark__timestamp_with_time_zone() -%}
    {#- Spark: no `timestamp with time zone` type name; TIMESTAMP is already an instant (TIMESTAMP_LTZ). -#}
    timestamp
{%- endmacro %}

{% macro spark__as_of_literal(iso_string) -%}
    {#- Spark: there is no `timestamp with time zone` type name; TIMESTAMP is already an instant
        (TIMESTAMP_LTZ) and a cast parses ISO-8601 with 'T', 'Z' or an offset, to microseconds. -#}
    cast('{{ iso_string }}' as timestamp)
{%- endmacro %}

{% macro spark__sorted_string_agg(expr, distinct) -%}
    {#- Spark: collect_list / collect_set skip NULLs; array_sort orders ascending; an empty group
        must stay NULL, not ''. -#}
    case when count({{ expr }}) > 0 then
        concat_ws(';', array_sort({{ 'collect_set' if distinct else 'collect_list' }}({{ expr }})))
    end
{%- endmacro %}
