-- Every considered order with its amounts, age and category: the order rules of contracts §2,
-- applied in the contract's order (the first rule that applies wins).
-- The rules live in macros/rules.sql (shared with the maintained state).

{{ classify_orders(ref('stg_shop__orders'), ref('int_payments_aggregated_to_orders')) }}
