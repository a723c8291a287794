-- Messages to customers, recorded when they are requested. Delivery (an
-- email provider) is out of the suite's scope: the row is the outbox a
-- sender would work from.
CREATE TABLE notifications (
    id          text PRIMARY KEY,
    order_id    text NOT NULL,
    customer_id text NOT NULL,
    template    text NOT NULL CHECK (template IN ('order_confirmed')),
    status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- One confirmation per order, however often it is asked for.
    UNIQUE (order_id, template)
);
