-- Shoppers' carts, for a cart service that keeps them in the shop's database
-- (CART_STORE=database) rather than in its memory or in Redis, so a cart
-- outlives the process that took it (a restart, a rolling update) and every
-- replica sees the same one. Owner: the cart service.
-- Portable SQL (SQLite and PostgreSQL): TEXT ids, time as BIGINT
-- milliseconds since the Unix epoch, made in Rust.

-- One row per cart: the row every write to the cart takes first (PostgreSQL
-- locks it until the commit), and when an item was last added (the idle
-- expiry, CART_TTL, counts from there).
CREATE TABLE carts (
    user_id TEXT PRIMARY KEY,
    touched_at_ms BIGINT NOT NULL
);

-- Expired carts, oldest first, for the sweep.
CREATE INDEX carts_by_touch ON carts (touched_at_ms);

-- A cart's lines, one per product, listed in the order their products were
-- first added; they go with their cart (emptied, or swept once expired).
CREATE TABLE cart_lines (
    user_id TEXT NOT NULL REFERENCES carts (user_id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 1),
    position BIGINT NOT NULL,
    PRIMARY KEY (user_id, product_id)
);
