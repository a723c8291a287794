-- Events waiting to be published, written in the same transaction as the
-- change they announce: an order is confirmed if and only if its event
-- exists. The relay publishes each row, waits for JetStream's ack, then
-- sets sent_at.
CREATE TABLE outbox (
    event_id    text PRIMARY KEY,
    subject     text NOT NULL,
    -- The exact bytes to publish (JSON).
    payload     text NOT NULL,
    -- The W3C context the event was created in, so the trace continues
    -- through the relay and the broker, however late the event leaves.
    traceparent text,
    tracestate  text,
    baggage     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);

-- What the relay looks for: the unsent rows, oldest first.
CREATE INDEX outbox_unsent ON outbox (created_at) WHERE sent_at IS NULL;
