-- Succeeded payments that name no considered order (order_id NULL, or an order that does not
-- exist as of as_of): in flight while younger than G (the order may not have replicated yet),
-- orphan_payment after that (contracts §2).
-- The rule lives in macros/rules.sql (shared with the maintained state).

{{ unmatched_payments(ref('stg_payments__payments'), ref('stg_shop__orders')) }}
