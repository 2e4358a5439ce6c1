//! Integration tests: the orders service over real gRPC on 127.0.0.1:0, on
//! SQLite and on a PostgreSQL server the test starts (skipped with a message
//! when PostgreSQL is not installed, failed under `CI=true`). The order book
//! itself is tested in `boutique-store`; these cover what the service adds:
//! its checks, its status codes and its answers.

mod helpers;
mod owners;
