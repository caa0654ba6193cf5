-- Succeeded payments summed per order (contracts §2), one row per considered order that has at
-- least one succeeded payment. Pending and failed payments never count. Amounts count only in
-- the order's currency; a payment in any other currency is flagged for the currency rule.
-- The rule lives in macros/rules.sql (shared with the maintained state).

{{ aggregate_payments_to_orders(ref('stg_shop__orders'), ref('stg_payments__payments')) }}
