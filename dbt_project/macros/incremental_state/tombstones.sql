{#-
  A merge only touches the keys its source holds, so an item that no longer exists (an order no
  longer considered, a payment item whose payment is now matched, no longer succeeded or no longer
  considered) is merged as a tombstone: its key with is_deleted = true, every other column NULL.
  DuckDB's merge deletes it (merge_clauses in the model's config); elsewhere a post-hook does.
-#}

{% macro stored_items_no_longer_found(items, plan) -%}
    {#- The keys of the stored items this build re-examined (the dirty ones on a build by changes,
        every one on a rebuild) and did not classify again: not in `items`. -#}
    select stored.item_key
    from {{ this }} as stored
    where stored.item_type = 'order'
      {%- if plan.by_changes %}
      and stored.order_id in {{ dirty_order_ids() }}
      {%- endif %}
      and not exists (select 1 from {{ items }} where {{ items }}.item_key = stored.item_key)
    union all
    select stored.item_key
    from {{ this }} as stored
    where stored.item_type = 'payment'
      {%- if plan.by_changes %}
      and stored.payment_id in {{ dirty_payment_ids() }}
      {%- endif %}
      and not exists (select 1 from {{ items }} where {{ items }}.item_key = stored.item_key)
{%- endmacro %}


{% macro delete_tombstones() -%}
    {#- Post-hook of the state. -#}
    {%- if not (execute and state_is_maintained()) -%}
        {{- return('') -}}
    {%- endif -%}
    {{- return(adapter.dispatch('delete_tombstones', 'finance_recon')()) -}}
{%- endmacro %}

{% macro default__delete_tombstones() -%}
    {#- Trino: dbt-trino's merge updates the matched rows and inserts the others; it has no
        conditional delete, so the merged tombstones are deleted here. -#}
    delete from {{ this }} where is_deleted
{%- endmacro %}

{% macro duckdb__delete_tombstones() -%}
    {#- DuckDB: the merge itself deleted them. -#}
{%- endmacro %}
