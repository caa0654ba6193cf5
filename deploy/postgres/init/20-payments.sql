-- The payments table of contracts §1, created on the compose PostgreSQL's first start (database
-- POSTGRES_DB = payments). Upstream owns this table in production.
CREATE TABLE IF NOT EXISTS public.payments (
  payment_id VARCHAR(64)   PRIMARY KEY,
  order_id   BIGINT        NULL,
  provider   VARCHAR(32)   NOT NULL,
  kind       VARCHAR(16)   NOT NULL,
  status     VARCHAR(16)   NOT NULL,
  currency   CHAR(3)       NOT NULL,
  amount     NUMERIC(18,2) NOT NULL,
  created_at TIMESTAMPTZ   NOT NULL,
  updated_at TIMESTAMPTZ   NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_updated_at ON public.payments (updated_at);
