//! Integration tests: the frontend over real HTTP, in front of every real
//! backend (catalog, currency, cart, recommendation, shipping, ad, payment,
//! email, checkout, and orders, accounts and ratings each on an in-memory
//! SQLite database), each on 127.0.0.1:0 in this process, and a stand-in
//! shopping assistant where one is needed.

mod accounts;
mod api;
mod api_accounts;
mod api_checkout;
mod assistant;
mod browse;
mod degraded;
mod flags;
mod helpers;
mod orders;
mod ratings;
mod retries;
mod security;
mod sessions;
mod shedding;
mod snapshots;
mod validation;
