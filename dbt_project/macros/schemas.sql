{#- Where the platform's own tables live, beside the models. -#}

{% macro landing_schema() -%}
    {#- Where the extraction lands the sources (the `landing` source, _landing__sources.yml) and its
        change log. -#}
    {{- return(var('landing_schema', env_var('FINANCE_RECON_LANDING_SCHEMA', 'landing'))) -}}
{%- endmacro %}

{% macro control_schema() -%}
    {#- Where the platform keeps its control tables (the run parameters, the state's build record):
        `control` in the DuckDB file; on Trino the deployment's own schema
        (FINANCE_RECON_CONTROL_SCHEMA), so that two deployments on one catalog never share them. -#}
    {{- return(var('control_schema', env_var('FINANCE_RECON_CONTROL_SCHEMA', 'control'))) -}}
{%- endmacro %}

{% macro control_relation(identifier) -%}
    {#- (Spark's targets have no database: the schema is the namespace.) -#}
    {{- return(api.Relation.create(database=target.database if target.database is defined else none,
                                   schema=control_schema(), identifier=identifier)) -}}
{%- endmacro %}
