{#-
  The run's parameters (contracts §2): the cut-off `as_of`, the tolerance τ and the grace window G,
  as SQL literals. Where they come from is decided by var('as_of'):

  - as_of given (`--vars '{as_of: 2026-11-28T18:00:00Z}'`: ad hoc builds, the YAML unit tests,
    Spark, the benchmarks): the vars as_of, tolerance and grace_minutes (dbt_project.yml has the
    contract's defaults for the last two). They are validated here, so a malformed value fails
    compilation with a message instead of reaching SQL.
  - as_of not given (the platform's runs, and a plain `dbt build`): the newest row of
    control.run_parameters. The platform appends one row per run before `dbt build`
    (finance_recon/reconciliation/parameters.py), so the models read the run's parameters without
    --vars: new vars on every run would make dbt re-parse the project instead of using the
    prepared manifest, and the table keeps every run's parameters. A plain `dbt build` on a
    warehouse the platform runs therefore rebuilds exactly what its last run built.
  - neither (a warehouse the platform never ran): as_of is the invocation's start (dbt's
    run_started_at, to the second: contracts §2's default, the run's start), τ and G the vars'
    defaults (0.00 and 60 minutes).

  Each value is read when a node compiles and written into its SQL as a literal, on every engine:
  as scalar subqueries over the control table they made Trino plan a stage per use (769 in the
  state, over its limit of 150) and kept DuckDB from filtering its scans by the cut-off.
-#}

{% macro as_of() -%}
    {#- The cut-off as a UTC timestamp with time zone. -#}
    {{- return(run_parameter('as_of')) -}}
{%- endmacro %}

{% macro tolerance() -%}
    {#- τ as an exact DECIMAL(18,6), never a float. -#}
    {{- return(run_parameter('tolerance')) -}}
{%- endmacro %}

{% macro grace_minutes() -%}
    {#- G in whole minutes, an integer. -#}
    {{- return(run_parameter('grace_minutes')) -}}
{%- endmacro %}

{% macro state_as_of() -%}
    {#- The cut-off the maintained state is current at, for what depends on the cut-off alone (an
        item's age, the summary's as_of), read when the relation is queried rather than written in
        at build time: the newest row of control.state_builds. A run that finds nothing dirty
        carries the state forward to its own as_of by appending that row, without running the
        models (finance_recon/reconciliation/carry_forward.py), and the marts' views follow.
        With as_of given (the unit tests, Spark) or while parsing, the build's own as_of(). -#}
    {{- return(adapter.dispatch('state_as_of', 'finance_recon')()) -}}
{%- endmacro %}

{% macro default__state_as_of() -%}
    {%- if var('as_of', none) is not none or not execute -%}
        {{- return(as_of()) -}}
    {%- endif -%}
    {{- return('(select as_of from (' ~ last_state_build(control_relation('state_builds')) ~ ') as last_build)') -}}
{%- endmacro %}

{% macro spark__state_as_of() -%}
    {#- Spark rebuilds the state every run (no state_builds): the build's as_of. -#}
    {{- return(as_of()) -}}
{%- endmacro %}

{% macro run_seq() -%}
    {#- Which run classified a row (the state's classified_seq; macros/incremental_state/): the
        run's control.run_parameters.seq, or, for a build with other parameters, one past the
        newest seq (1 on a warehouse without the table), so that its rows count as not yet
        verified by any run (the row tests' filter, dbt_project.yml). -#}
    {{- return(run_parameter('seq')) -}}
{%- endmacro %}


{% macro run_id() -%}
    {#- Which run this build belongs to (the state's build record): the platform's run id, or
        `dbt:<invocation id>` for a build with other parameters. -#}
    {{- return(run_parameter('run_id')) -}}
{%- endmacro %}


{% macro run_parameter(name) -%}
    {#- One parameter of this build as a typed SQL literal (the route: this file's header). -#}
    {%- set types = {'as_of': timestamp_with_time_zone(), 'tolerance': 'decimal(18, 6)',
                     'grace_minutes': 'integer', 'seq': 'bigint', 'run_id': 'varchar'} -%}
    {%- if var('as_of', none) is not none -%}
        {{- return(_parameter_from_vars(name)) -}}
    {%- endif -%}
    {%- if not execute -%}
        {#- Parsing: no database, and nothing rendered now is run. -#}
        {{- return("cast(null as " ~ types[name] ~ ")") -}}
    {%- endif -%}
    {%- set relation = control_relation('run_parameters') -%}
    {%- set stored = adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
    {%- set row = run_query('select cast(' ~ name ~ ' as varchar) from ' ~ stored ~ ' order by seq desc limit 1')
                  if stored is not none else [] -%}
    {%- if row | length == 0 -%}
        {{- return(_parameter_by_default(name)) -}}
    {%- endif -%}
    {{- return("cast('" ~ row.columns[0].values()[0] ~ "' as " ~ types[name] ~ ")") -}}
{%- endmacro %}

{% macro _parameter_from_vars(name) -%}
    {%- if name == 'as_of' -%}
        {%- set raw = var('as_of') | string -%}
        {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$', raw) -%}
            {{ exceptions.raise_compiler_error("var 'as_of' must be an ISO-8601 timestamp with an offset, e.g. 2026-11-28T18:00:00+00:00; got '" ~ raw ~ "'") }}
        {%- endif -%}
        {{- return(as_of_literal(raw)) -}}
    {%- endif -%}
    {{- return(_parameter_by_default(name)) -}}
{%- endmacro %}

{% macro _parameter_by_default(name) -%}
    {#- Without a row of control.run_parameters: the invocation's start, the vars' τ and G. -#}
    {%- if name == 'as_of' -%}
        {{- return(as_of_literal(run_started_at.strftime('%Y-%m-%dT%H:%M:%S+00:00'))) -}}
    {%- elif name == 'tolerance' -%}
        {%- set raw = var('tolerance') | string -%}
        {%- if not modules.re.match('^\d{1,12}(\.\d{1,6})?$', raw) -%}
            {{ exceptions.raise_compiler_error("var 'tolerance' must be a non-negative decimal string such as '0.01'; got '" ~ raw ~ "'") }}
        {%- endif -%}
        {{- return("cast('" ~ raw ~ "' as decimal(18, 6))") -}}
    {%- elif name == 'grace_minutes' -%}
        {%- set raw = var('grace_minutes') | string -%}
        {%- if not modules.re.match('^\d{1,9}$', raw) -%}
            {{ exceptions.raise_compiler_error("var 'grace_minutes' must be a non-negative integer; got '" ~ raw ~ "'") }}
        {%- endif -%}
        {{- return((raw | int) | string) -}}
    {%- elif name == 'run_id' -%}
        {{- return("cast('dbt:" ~ invocation_id ~ "' as varchar)") -}}
    {%- endif -%}
    {#- seq: one past the newest platform run's (see run_seq). -#}
    {%- set newest = 0 -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- set relation = control_relation('run_parameters') -%}
        {%- set stored = adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
        {%- if stored is not none -%}
            {%- set newest = run_query('select coalesce(max(seq), 0) from ' ~ stored).columns[0].values()[0] -%}
        {%- endif -%}
    {%- endif -%}
    {{- return("cast(" ~ ((newest | int) + 1) ~ " as bigint)") -}}
{%- endmacro %}


{% macro timestamp_with_time_zone() -%}
    {{- return(adapter.dispatch('timestamp_with_time_zone', 'finance_recon')()) -}}
{%- endmacro %}

{% macro default__timestamp_with_time_zone() -%}
    timestamp with time zone
{%- endmacro %}

{% macro trino__timestamp_with_time_zone() -%}
    {#- Trino: a bare `timestamp with time zone` is timestamp(3): milliseconds. The sources and the
        cut-off carry microseconds. -#}
    timestamp(6) with time zone
{%- endmacro %}


{% macro as_of_literal(iso_string) -%}
    {#- An ISO-8601 string with an offset (2026-11-28T18:00:00Z) as a UTC timestamp literal. -#}
    {{- return(adapter.dispatch('as_of_literal', 'finance_recon')(iso_string)) -}}
{%- endmacro %}

{% macro default__as_of_literal(iso_string) -%}
    cast('{{ iso_string }}' as timestamp with time zone)
{%- endmacro %}

{% macro trino__as_of_literal(iso_string) -%}
    {#- Trino: CAST(varchar AS timestamp with time zone) expects 'YYYY-MM-DD hh:mm:ss zone', not
        ISO-8601's 'T' form, and from_iso8601_timestamp keeps only milliseconds; the _nanos variant
        keeps every digit, then we settle on microseconds like the sources. -#}
    cast(from_iso8601_timestamp_nanos('{{ iso_string }}') as timestamp(6) with time zone)
{%- endmacro %}
