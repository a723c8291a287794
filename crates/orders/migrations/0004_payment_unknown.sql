-- `payment_unknown`: the charge was sent and its answer lost (a timeout, a
-- failure after sending). The order keeps its stock until the reconciler
-- learns from payments whether the card was charged, then ends
-- `confirmed` or `payment_failed` like any other.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'payment_unknown', 'confirmed', 'payment_failed'));

-- The reconciler's scan: orders whose payment is not settled.
CREATE INDEX orders_unsettled ON orders (updated_at) WHERE status IN ('pending', 'payment_unknown');
