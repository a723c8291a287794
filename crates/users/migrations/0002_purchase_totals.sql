-- What each customer has bought, kept from the orders.confirmed events.
ALTER TABLE users
    ADD COLUMN orders_confirmed     bigint NOT NULL DEFAULT 0,
    ADD COLUMN lifetime_spend_cents bigint NOT NULL DEFAULT 0;

-- Every event applied, recorded in the same transaction as the totals it
-- changed: a redelivered or duplicated event finds its id here and
-- changes nothing.
CREATE TABLE processed_events (
    event_id     text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
