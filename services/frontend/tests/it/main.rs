//! Integration tests: the frontend over real HTTP, in front of every real
//! backend (catalog, currency, cart, recommendation, shipping, ad, payment,
//! email, checkout, orders on an in-memory SQLite database), each on
//! 127.0.0.1:0 in this process, and a stand-in shopping assistant where one
//! is needed.

mod api;
mod api_checkout;
mod assistant;
mod browse;
mod degraded;
mod helpers;
mod orders;
mod security;
mod sessions;
mod shedding;
mod snapshots;
mod validation;
