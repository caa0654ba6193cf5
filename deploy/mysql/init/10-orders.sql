-- The orders table of contracts §1, created on the compose MySQL's first start (database oltp).
-- Upstream owns this table in production; here it lets the stack run end to end.
CREATE TABLE IF NOT EXISTS orders (
  order_id     BIGINT        NOT NULL PRIMARY KEY,
  customer_id  BIGINT        NOT NULL,
  status       VARCHAR(16)   NOT NULL,
  currency     CHAR(3)       NOT NULL,
  total_amount DECIMAL(18,2) NOT NULL,
  created_at   DATETIME(6)   NOT NULL,
  updated_at   DATETIME(6)   NOT NULL,
  KEY orders_updated_at (updated_at)
);
