-- The catalogue and its stock. Stock lives with orders because reserving
-- it and recording the order must happen in one transaction.
CREATE TABLE products (
    sku         text PRIMARY KEY,
    name        text NOT NULL,
    price_cents bigint NOT NULL CHECK (price_cents > 0),
    currency    text NOT NULL,
    -- The CHECK is the last line of defence against overselling.
    stock       integer NOT NULL CHECK (stock >= 0)
);

INSERT INTO products (sku, name, price_cents, currency, stock) VALUES
    ('sku_keyboard', 'Mechanical keyboard', 8900, 'EUR', 1000000),
    ('sku_mouse',    'Wireless mouse',      2900, 'EUR', 1000000),
    ('sku_sold_out', 'Limited edition mat', 1500, 'EUR', 0);

-- An order is `pending` while its payment runs, then `confirmed` or
-- `payment_failed` (its stock given back).
CREATE TABLE orders (
    id          text PRIMARY KEY,
    customer_id text NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'confirmed', 'payment_failed')),
    total_cents bigint NOT NULL CHECK (total_cents > 0),
    currency    text NOT NULL,
    payment_id  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX orders_customer_id ON orders (customer_id);

-- The price is copied into the line: a later price change must not change
-- what a customer was charged.
CREATE TABLE order_items (
    order_id         text NOT NULL REFERENCES orders (id),
    sku              text NOT NULL REFERENCES products (sku),
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    unit_price_cents bigint NOT NULL,
    PRIMARY KEY (order_id, sku)
);
