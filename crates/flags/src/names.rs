//! The flags Boutique knows, by name: the OpenTelemetry demo's where one
//! exists (same names, variants and meaning, so its flag file and flagd UI
//! drive Boutique), and ours for per-service latency and errors.
//!
//! [`CATALOGUE`] is the one list: the repository's flag file
//! (`deploy/flags/boutique.flagd.json`) and the table in `docs/flags.md` are
//! checked against it by this crate's tests.

/// `GetAds` fails with `UNAVAILABLE` on one call in ten, as in the demo (bool).
pub const AD_FAILURE: &str = "adFailure";
/// Each `GetAds` burns CPU for a bounded time (bool).
pub const AD_HIGH_CPU: &str = "adHighCpu";
/// Each `GetAds` allocates and frees a bounded burst of memory: our stand-in
/// for the demo's forced garbage collection (bool).
pub const AD_MANUAL_GC: &str = "adManualGc";
/// `EmptyCart` fails with this fraction of calls (number 0..1, as the demo's
/// current file; the demo's older boolean `on` reads as 1).
pub const CART_FAILURE: &str = "cartFailure";
/// `Charge` fails with this fraction of calls (number 0..1).
pub const PAYMENT_FAILURE: &str = "paymentFailure";
/// Checkout cannot reach payment (bool); evaluated by checkout.
pub const PAYMENT_UNREACHABLE: &str = "paymentUnreachable";
/// `GetProduct` of one product fails; the flag's targeting names it (bool,
/// evaluated with `product_id` in the context).
pub const PRODUCT_CATALOG_FAILURE: &str = "productCatalogFailure";
/// Recommendation keeps a cache that grows with every call, bounded (bool).
pub const RECOMMENDATION_CACHE_FAILURE: &str = "recommendationCacheFailure";
/// Email keeps a growing buffer, this many times each message, bounded (number).
pub const EMAIL_MEMORY_LEAK: &str = "emailMemoryLeak";
/// The storefront's product images load this many milliseconds late
/// (number); evaluated by the frontend.
pub const IMAGE_SLOW_LOAD: &str = "imageSlowLoad";
/// Cart's readiness fails while on; liveness stays green (bool).
pub const FAILED_READINESS_PROBE: &str = "failedReadinessProbe";
/// The load generator requests `/` this many extra times per shopper loop
/// (number), bounded.
pub const LOAD_GENERATOR_FLOOD_HOMEPAGE: &str = "loadGeneratorFloodHomepage";
/// The orders event consumer (dispatch) stalls for this many milliseconds
/// before each event (number); evaluated by dispatch.
pub const QUEUE_CONSUMER_STALL: &str = "boutique.queue.consumerStall";
/// This fraction of order-event publishes fail (number 0..1); evaluated by
/// the orders relay.
pub const QUEUE_PUBLISH_FAILURE: &str = "boutique.queue.publishFailure";

/// The prefix of the per-service latency flags: `boutique.latency.<service>`
/// (milliseconds added to each inbound call; flagd targeting on `service` and
/// `method` picks methods).
pub const LATENCY_PREFIX: &str = "boutique.latency.";
/// The prefix of the per-service error flags: `boutique.errors.<service>`
/// (the fraction of inbound calls answered `UNAVAILABLE`).
pub const ERRORS_PREFIX: &str = "boutique.errors.";

/// The services whose inbound gRPC calls the latency and error flags reach
/// (every gRPC server of the shop, by its directory name).
pub const GRPC_SERVICES: [&str; 10] = [
    "catalog",
    "currency",
    "payment",
    "shipping",
    "email",
    "cart",
    "ad",
    "recommendation",
    "orders",
    "checkout",
];

/// The latency flag of `service`.
pub fn latency_flag(service: &str) -> String {
    format!("{LATENCY_PREFIX}{service}")
}

/// The error flag of `service`.
pub fn errors_flag(service: &str) -> String {
    format!("{ERRORS_PREFIX}{service}")
}

/// What kind of value a flag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true`/`false`.
    Bool,
    /// A number (a fraction, a count or milliseconds).
    Number,
}

/// Every named flag and its kind (the per-service flags are
/// [`latency_flag`]/[`errors_flag`] of each of [`GRPC_SERVICES`]).
pub const CATALOGUE: [(&str, Kind); 14] = [
    (AD_FAILURE, Kind::Bool),
    (AD_HIGH_CPU, Kind::Bool),
    (AD_MANUAL_GC, Kind::Bool),
    (CART_FAILURE, Kind::Number),
    (PAYMENT_FAILURE, Kind::Number),
    (PAYMENT_UNREACHABLE, Kind::Bool),
    (PRODUCT_CATALOG_FAILURE, Kind::Bool),
    (RECOMMENDATION_CACHE_FAILURE, Kind::Bool),
    (EMAIL_MEMORY_LEAK, Kind::Number),
    (IMAGE_SLOW_LOAD, Kind::Number),
    (FAILED_READINESS_PROBE, Kind::Bool),
    (LOAD_GENERATOR_FLOOD_HOMEPAGE, Kind::Number),
    (QUEUE_CONSUMER_STALL, Kind::Number),
    (QUEUE_PUBLISH_FAILURE, Kind::Number),
];

/// Every flag name, the per-service ones included.
pub fn all_flags() -> Vec<(String, Kind)> {
    let named = CATALOGUE
        .iter()
        .map(|&(name, kind)| (name.to_owned(), kind));
    let per_service = GRPC_SERVICES.iter().flat_map(|service| {
        [
            (latency_flag(service), Kind::Number),
            (errors_flag(service), Kind::Number),
        ]
    });
    named.chain(per_service).collect()
}
