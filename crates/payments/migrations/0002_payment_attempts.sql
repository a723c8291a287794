-- A payment row is written before the card processor is called, as
-- `pending` with the request's deadline, and settled after. A row still
-- `pending` past its deadline is a charge whose outcome nobody heard: the
-- reconciliation asks the processor about it with the same idempotency key
-- (the payment id). `failed` means the processor was never reached, so
-- nothing was charged.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'approved', 'declined', 'failed'));
ALTER TABLE payments ADD COLUMN attempt_deadline timestamptz;
ALTER TABLE payments ADD COLUMN settled_at timestamptz;
