//! Integration tests: the accounts service over real gRPC on 127.0.0.1:0, on
//! SQLite (file and memory) and on a PostgreSQL started by the test.

mod helpers;
mod passwords;
mod sessions;
mod throttling;
mod tokens;
