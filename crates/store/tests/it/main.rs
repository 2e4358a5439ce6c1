//! Integration tests of the store: the same suite on every backend (SQLite file,
//! SQLite in memory, a real PostgreSQL started by the test), plus configuration.

mod accounts;
mod backends;
mod carts;
mod charges;
mod config;
mod helpers;
mod lifecycle;
mod migrations;
mod orders;
mod ratings;
