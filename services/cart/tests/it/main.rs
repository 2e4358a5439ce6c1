//! Integration tests: the cart service over real gRPC on 127.0.0.1:0, against
//! the in-memory store, the database store (an SQLite file) and a real
//! `redis-server` (skipped outside CI when Redis is not installed; a failure
//! under `CI=true`).

mod behaviour;
mod concurrency;
mod database_only;
mod flags;
mod helpers;
mod redis_only;
