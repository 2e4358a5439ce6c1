//! Integration tests: the ratings service over real gRPC on 127.0.0.1:0,
//! with the real catalog and orders services started in the test, on
//! SQLite and on a PostgreSQL server the test starts (skipped with a message
//! when PostgreSQL is not installed, failed under `CI=true`).

mod helpers;
mod limits;
mod ratings;
mod verified;
