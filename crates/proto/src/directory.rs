//! The directory of Boutique's services: the one table that says who each
//! service is, where upstream runs it, how its clients find it, and whom it
//! calls.
//!
//! Everything else is derived from it: the binary's subcommands and the start
//! order of `boutique all`, the `*_SERVICE_ADDR` variables each service reads
//! for its peers (see `boutique_platform::config::Peers`), and the service table
//! of the README (checked by a test). Adding a service is one entry here, its
//! crate, and one line in the binary naming that crate.

/// How a service is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC, with this fully qualified service name (`hipstershop.CartService`).
    Grpc(&'static str),
    /// HTTP (the storefront).
    Http,
    /// No API of its own: it consumes events and serves only health and
    /// metrics (the dispatch worker).
    Worker,
}

/// Who a service is. Compared by identity: there is one entry per service.
#[derive(Debug)]
pub struct ServiceInfo {
    /// Our short name: the subcommand, the `service` field of log lines and the
    /// `service_name` label of metrics.
    pub name: &'static str,
    /// Upstream's name for it (`productcatalogservice`), accepted wherever a
    /// service is named on the command line; for our own services, which
    /// upstream does not have, the same as `name`.
    pub upstream: &'static str,
    /// The port upstream's container listens on, and ours by default.
    pub port: u16,
    /// The variable through which its clients find it (upstream's name).
    pub addr_var: &'static str,
    /// What it speaks.
    pub protocol: Protocol,
    /// One line on what it does, for `--help` and the docs.
    pub about: &'static str,
    /// The services it calls, each of which must come before it in [`ALL`].
    pub calls: &'static [&'static ServiceInfo],
}

impl PartialEq for ServiceInfo {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for ServiceInfo {}

impl std::hash::Hash for ServiceInfo {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// The product catalog.
pub static CATALOG: ServiceInfo = ServiceInfo {
    name: "catalog",
    upstream: "productcatalogservice",
    port: 3550,
    addr_var: "PRODUCT_CATALOG_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.ProductCatalogService"),
    about: "Product catalog: list, get and search products",
    calls: &[],
};

/// Currency conversion.
pub static CURRENCY: ServiceInfo = ServiceInfo {
    name: "currency",
    upstream: "currencyservice",
    port: 7000,
    addr_var: "CURRENCY_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.CurrencyService"),
    about: "Currency conversion at ECB rates",
    calls: &[],
};

/// Card payments.
pub static PAYMENT: ServiceInfo = ServiceInfo {
    name: "payment",
    upstream: "paymentservice",
    port: 50051,
    addr_var: "PAYMENT_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.PaymentService"),
    about: "Card payments (validated, never really charged)",
    calls: &[],
};

/// Shipping quotes and tracking ids.
pub static SHIPPING: ServiceInfo = ServiceInfo {
    name: "shipping",
    upstream: "shippingservice",
    port: 50051,
    addr_var: "SHIPPING_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.ShippingService"),
    about: "Shipping quotes and tracking ids",
    calls: &[],
};

/// Order confirmation emails.
pub static EMAIL: ServiceInfo = ServiceInfo {
    name: "email",
    upstream: "emailservice",
    port: 8080,
    addr_var: "EMAIL_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.EmailService"),
    about: "Order confirmation emails, over SMTP when configured",
    calls: &[],
};

/// Shopping carts.
pub static CART: ServiceInfo = ServiceInfo {
    name: "cart",
    upstream: "cartservice",
    port: 7070,
    addr_var: "CART_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.CartService"),
    about: "Shopping carts, in memory, Redis or the shop's database",
    calls: &[],
};

/// Contextual ads.
pub static AD: ServiceInfo = ServiceInfo {
    name: "ad",
    upstream: "adservice",
    port: 9555,
    addr_var: "AD_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.AdService"),
    about: "Contextual ads",
    calls: &[],
};

/// Product recommendations.
pub static RECOMMENDATION: ServiceInfo = ServiceInfo {
    name: "recommendation",
    upstream: "recommendationservice",
    port: 8080,
    addr_var: "RECOMMENDATION_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.RecommendationService"),
    about: "Product recommendations",
    calls: &[&CATALOG],
};

/// Order records and their state machine.
pub static ORDERS: ServiceInfo = ServiceInfo {
    name: "orders",
    upstream: "orders",
    port: 5060,
    addr_var: "ORDERS_SERVICE_ADDR",
    protocol: Protocol::Grpc("boutique.orders.v1.OrderService"),
    about: "Order records, their states and history, and order events",
    calls: &[],
};

/// Shoppers' accounts, passwords and sign-in tokens.
pub static ACCOUNTS: ServiceInfo = ServiceInfo {
    name: "accounts",
    upstream: "accounts",
    port: 5080,
    addr_var: "ACCOUNTS_SERVICE_ADDR",
    protocol: Protocol::Grpc("boutique.accounts.v1.AccountsService"),
    about: "Shoppers' accounts: sign-up, sign-in, tokens",
    // A deleted account's orders are anonymised before the account goes.
    calls: &[&ORDERS],
};

/// Order placement.
pub static CHECKOUT: ServiceInfo = ServiceInfo {
    name: "checkout",
    upstream: "checkoutservice",
    port: 5050,
    addr_var: "CHECKOUT_SERVICE_ADDR",
    protocol: Protocol::Grpc("hipstershop.CheckoutService"),
    about: "Order placement: cart to paid, shipped order",
    calls: &[
        &CART, &CATALOG, &CURRENCY, &SHIPPING, &PAYMENT, &EMAIL, &ORDERS,
    ],
};

/// The warehouse: moves shipped orders to dispatched and delivered.
pub static DISPATCH: ServiceInfo = ServiceInfo {
    name: "dispatch",
    upstream: "dispatch",
    port: 5070,
    addr_var: "DISPATCH_SERVICE_ADDR",
    protocol: Protocol::Worker,
    about: "Order dispatch: consumes order events, moves orders to dispatched and delivered",
    calls: &[&ORDERS],
};

/// Shoppers' ratings and reviews of products.
pub static RATINGS: ServiceInfo = ServiceInfo {
    name: "ratings",
    upstream: "ratings",
    port: 5090,
    addr_var: "RATINGS_SERVICE_ADDR",
    protocol: Protocol::Grpc("boutique.ratings.v1.RatingsService"),
    about: "Product ratings and reviews by signed-in shoppers, with verified purchases",
    calls: &[&CATALOG, &ORDERS],
};

/// The storefront.
pub static FRONTEND: ServiceInfo = ServiceInfo {
    name: "frontend",
    upstream: "frontend",
    port: 8080,
    // The load generator's name for the storefront.
    addr_var: "FRONTEND_ADDR",
    protocol: Protocol::Http,
    about: "The storefront: shop pages, cart and checkout",
    calls: &[
        &CATALOG,
        &CURRENCY,
        &CART,
        &RECOMMENDATION,
        &CHECKOUT,
        &SHIPPING,
        &AD,
        &ORDERS,
        &ACCOUNTS,
        &RATINGS,
    ],
};

/// Every service, each after the services it calls, so starting them in this
/// order starts every dependency first.
pub static ALL: [&ServiceInfo; 14] = [
    &CATALOG,
    &CURRENCY,
    &PAYMENT,
    &SHIPPING,
    &EMAIL,
    &CART,
    &AD,
    &RECOMMENDATION,
    &ORDERS,
    &ACCOUNTS,
    &CHECKOUT,
    &DISPATCH,
    &RATINGS,
    &FRONTEND,
];

/// The service called `name`, ours (`catalog`) or upstream's
/// (`productcatalogservice`), in any case.
pub fn find(name: &str) -> Option<&'static ServiceInfo> {
    let name = name.trim();
    ALL.iter()
        .copied()
        .find(|s| s.name.eq_ignore_ascii_case(name) || s.upstream.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_service_comes_after_the_services_it_calls() {
        for (position, service) in ALL.iter().enumerate() {
            for callee in service.calls {
                let at = ALL.iter().position(|s| s == callee);
                assert!(
                    at.is_some_and(|at| at < position),
                    "{} calls {}, which must come earlier in ALL",
                    service.name,
                    callee.name
                );
            }
        }
    }

    #[test]
    fn names_and_variables_are_unique() {
        let names: HashSet<_> = ALL.iter().flat_map(|s| [s.name, s.upstream]).collect();
        // The storefront and our own services have one name each.
        let distinct: usize = ALL
            .iter()
            .map(|s| if s.name == s.upstream { 1 } else { 2 })
            .sum();
        assert_eq!(names.len(), distinct);
        let vars: HashSet<_> = ALL.iter().map(|s| s.addr_var).collect();
        assert_eq!(vars.len(), ALL.len());
    }

    #[test]
    fn finds_ours_and_upstream_names() {
        assert_eq!(find("catalog"), Some(&CATALOG));
        assert_eq!(find(" ProductCatalogService "), Some(&CATALOG));
        assert_eq!(find("cartservice"), Some(&CART));
        assert_eq!(find("frontend"), Some(&FRONTEND));
        assert_eq!(find("cashier"), None);
    }

    #[test]
    fn grpc_names_are_in_the_proto() {
        let descriptor = String::from_utf8_lossy(crate::FILE_DESCRIPTOR_SET);
        for service in ALL {
            if let Protocol::Grpc(full) = service.protocol {
                let (package, short) = full.rsplit_once('.').unwrap();
                assert!(descriptor.contains(short), "{full} is not in the protos");
                assert!(descriptor.contains(package), "{full} is not in the protos");
            }
        }
    }
}
