//! Integration tests: checkout over real gRPC on 127.0.0.1:0, against the
//! real catalog, currency, payment, shipping, email and cart services started
//! in the test, with fakes where a test needs to count, record or fail.

mod config;
mod failures;
mod fakes;
mod flags;
mod helpers;
mod idempotency;
mod orders;
mod propagation;
mod replicas;
mod resend;
