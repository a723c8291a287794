-- Customers. Ids are the public, prefixed ones (cus_...) so that logs and
-- traces show the same id support staff and API callers see.
CREATE TABLE users (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    email      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The contract's seed customers, in a migration so every fresh database has
-- them exactly once.
INSERT INTO users (id, name, email) VALUES
    ('cus_1001', 'Ada Lovelace', 'ada@example.com'),
    ('cus_1002', 'Grace Hopper', 'grace@example.com');
