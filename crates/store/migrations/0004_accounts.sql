-- The accounts service's tables (issue 13). Owner: the accounts service; no
-- other service reads or writes them (they ask it over gRPC).
-- Portable SQL (SQLite and PostgreSQL): TEXT ids, time as BIGINT milliseconds
-- since the Unix epoch; ids and times are made in Rust.

-- One row per account. `email` is kept as the shopper typed it; `email_key`
-- is its normalised form (trimmed, lowercase), unique, so two spellings of
-- one address cannot make two accounts on any replica.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    -- An Argon2id PHC string; never the password.
    password_hash TEXT NOT NULL,
    -- Tokens issued before this instant are refused (sign out everywhere,
    -- password change).
    sessions_valid_after_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Tokens signed out one by one, by their `jti`, kept until they would have
-- expired anyway and then pruned.
CREATE TABLE account_revoked_tokens (
    jti TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE INDEX account_revoked_tokens_by_expiry ON account_revoked_tokens (expires_at_ms);

-- Failed sign-ins, for throttling across replicas. `scope` says what
-- `subject` is (a digest of the email, or of the client address); rows older
-- than the throttling window are pruned.
CREATE TABLE account_sign_in_failures (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);

CREATE INDEX account_sign_in_failures_by_subject ON account_sign_in_failures (scope, subject, at_ms);
CREATE INDEX account_sign_in_failures_by_time ON account_sign_in_failures (at_ms);
