-- The order service's tables (issue 12). Owner: the orders service.
-- Portable SQL (SQLite and PostgreSQL): TEXT ids, money as BIGINT units +
-- INTEGER nanos, time as BIGINT milliseconds since the Unix epoch, flags as
-- INTEGER 0/1, lists as JSON text; ids and times are made in Rust.

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    cart_id TEXT NOT NULL,
    state TEXT NOT NULL,
    email TEXT NOT NULL,
    -- The shipping address, as JSON.
    address TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    -- The lines, as JSON; empty until priced.
    lines TEXT NOT NULL,
    -- Unset until priced.
    shipping_units BIGINT,
    shipping_nanos INTEGER,
    total_units BIGINT,
    total_nanos INTEGER,
    -- Never more of the card than its last four digits.
    card_last_four TEXT NOT NULL CHECK (length(card_last_four) <= 4),
    transaction_id TEXT,
    tracking_id TEXT,
    reason TEXT NOT NULL,
    cart_emptied INTEGER NOT NULL,
    confirmation_sent INTEGER NOT NULL,
    -- Problems that did not stop the order, as a JSON list.
    warnings TEXT NOT NULL,
    reconcile_attempts INTEGER NOT NULL,
    -- Until when a reconciler holds the order (0: nobody).
    lease_until_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE INDEX orders_by_owner ON orders (owner, created_at_ms, id);
CREATE INDEX orders_by_state ON orders (state, updated_at_ms);

-- Every state an order reached, with its time.
CREATE TABLE order_history (
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    note TEXT NOT NULL,
    -- The event that caused the move, if any: a move is made once per cause.
    cause TEXT,
    PRIMARY KEY (order_id, seq)
);

CREATE UNIQUE INDEX order_history_by_cause ON order_history (order_id, cause);

-- One order per cart at a time: the row lives from BeginOrder until the cart
-- is emptied or the order ends with nothing charged.
CREATE TABLE order_cart_claims (
    cart_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    claimed_at_ms BIGINT NOT NULL
);

-- Idempotency keys, per owner, for the life of the order.
CREATE TABLE order_idempotency_keys (
    owner TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (owner, idempotency_key)
);

-- The transactional outbox: written in the same transaction as the state
-- change it announces; the relay publishes and then deletes rows.
CREATE TABLE order_outbox (
    event_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    state TEXT NOT NULL,
    occurred_at_ms BIGINT NOT NULL,
    seq INTEGER NOT NULL
);

CREATE INDEX order_outbox_by_time ON order_outbox (occurred_at_ms, order_id, seq);
