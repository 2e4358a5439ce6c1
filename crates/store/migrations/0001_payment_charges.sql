-- The payment service's ledger: one row per idempotency key, first charge wins.
-- Portable SQL (SQLite and PostgreSQL): TEXT ids, money as BIGINT units + INTEGER
-- nanos, time as BIGINT milliseconds since the Unix epoch, all made in Rust.
CREATE TABLE payment_charges (
    idempotency_key TEXT PRIMARY KEY,
    transaction_id TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    units BIGINT NOT NULL,
    nanos INTEGER NOT NULL,
    -- Never more of the card than its last four digits.
    card_last_four TEXT NOT NULL CHECK (length(card_last_four) = 4),
    created_at_ms BIGINT NOT NULL
);

-- One transaction id answers one key: the audit of issue 12 matches orders to
-- charges by it.
CREATE UNIQUE INDEX payment_charges_transaction_id ON payment_charges (transaction_id);
