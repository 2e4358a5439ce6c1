-- Shoppers' ratings of products (issue 13). Owner: the ratings service.
-- Portable SQL (SQLite and PostgreSQL): TEXT ids, time as BIGINT
-- milliseconds since the Unix epoch, flags as INTEGER 0/1; times are made in
-- Rust. Nothing here refers to another service's tables, so this migration
-- applies whether or not 0004 is there yet.

-- One rating per account and product.
CREATE TABLE ratings (
    product_id TEXT NOT NULL,
    -- `acct-<uuid>`, from the accounts service (no foreign key: the accounts
    -- table belongs to another service).
    account_id TEXT NOT NULL,
    stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    -- Plain text as written (empty when none); never HTML.
    text TEXT NOT NULL,
    -- The account had a paid order with the product when it last wrote.
    verified_purchase INTEGER NOT NULL CHECK (verified_purchase IN (0, 1)),
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (product_id, account_id)
);

-- A product's ratings, most recently written first, a page at a time.
CREATE INDEX ratings_by_product_and_time ON ratings (product_id, updated_at_ms, account_id);

-- Each product's count and stars' sum, kept in the same transaction as every
-- change to `ratings`, so a product page reads one row.
CREATE TABLE rating_summaries (
    product_id TEXT PRIMARY KEY,
    rating_count BIGINT NOT NULL CHECK (rating_count >= 0),
    stars_sum BIGINT NOT NULL CHECK (stars_sum >= 0)
);

-- The per-account write limit, shared by every replica: a generic cell rate
-- algorithm, whose whole state is one time per account (the theoretical
-- arrival time of the next write).
CREATE TABLE rating_write_limits (
    account_id TEXT PRIMARY KEY,
    next_at_ms BIGINT NOT NULL
);
