-- One row per charge attempt, approved or declined. Only the last four
-- digits of a card are ever stored: the full number and the CVC pass
-- through this service to the processor and are never written anywhere.
CREATE TABLE payments (
    id                  text PRIMARY KEY,
    order_id            text NOT NULL,
    amount_cents        bigint NOT NULL CHECK (amount_cents > 0),
    currency            text NOT NULL,
    card_last4          text NOT NULL CHECK (card_last4 ~ '^[0-9]{4}$'),
    status              text NOT NULL CHECK (status IN ('approved', 'declined')),
    -- The processor's id for an approved charge, for refunds and disputes.
    processor_charge_id text,
    -- The processor's reason for a decline (generic_decline, ...).
    decline_code        text,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX payments_order_id ON payments (order_id);
