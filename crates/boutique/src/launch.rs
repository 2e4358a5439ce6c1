//! Starting one service: read its config, bind, and hand back a future that
//! serves until the shared stop signal.

use std::net::SocketAddr;

use boutique_platform::{ConfigError, Env, shutdown, telemetry::TelemetryHub};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::observe::{AdminAddr, Observability, flush};

/// Every service the binary can run; each is also a subcommand (`boutique cart`),
/// and the doc comments below are its `--help` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::Subcommand)]
pub(crate) enum Service {
    /// Product catalog (`hipstershop.ProductCatalogService`, port 3550).
    Catalog,
    /// Currency conversion (`hipstershop.CurrencyService`, port 7000).
    Currency,
    /// Card payments (`hipstershop.PaymentService`, port 50051).
    Payment,
    /// Shipping quotes and tracking (`hipstershop.ShippingService`, port 50051).
    Shipping,
    /// Order confirmation emails (`hipstershop.EmailService`, port 8080).
    Email,
    /// Shopping carts (`hipstershop.CartService`, port 7070).
    Cart,
    /// Product recommendations (`hipstershop.RecommendationService`, port 8080).
    Recommendation,
    /// Contextual ads (`hipstershop.AdService`, port 9555).
    Ad,
    /// Order placement (`hipstershop.CheckoutService`, port 5050).
    Checkout,
    /// The storefront (HTTP, port 8080).
    Frontend,
}

impl Service {
    /// All services, dependencies first: a service is started after everything it calls.
    pub(crate) const ALL: [Self; 10] = [
        Self::Catalog,
        Self::Currency,
        Self::Payment,
        Self::Shipping,
        Self::Email,
        Self::Cart,
        Self::Ad,
        Self::Recommendation,
        Self::Checkout,
        Self::Frontend,
    ];

    /// The short name used in logs and on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Catalog => "catalog",
            Self::Currency => "currency",
            Self::Payment => "payment",
            Self::Shipping => "shipping",
            Self::Email => "email",
            Self::Cart => "cart",
            Self::Recommendation => "recommendation",
            Self::Ad => "ad",
            Self::Checkout => "checkout",
            Self::Frontend => "frontend",
        }
    }

    /// The upstream variable through which clients find this service.
    pub(crate) fn addr_var(self) -> &'static str {
        match self {
            Self::Catalog => "PRODUCT_CATALOG_SERVICE_ADDR",
            Self::Currency => "CURRENCY_SERVICE_ADDR",
            Self::Payment => "PAYMENT_SERVICE_ADDR",
            Self::Shipping => "SHIPPING_SERVICE_ADDR",
            Self::Email => "EMAIL_SERVICE_ADDR",
            Self::Cart => "CART_SERVICE_ADDR",
            Self::Recommendation => "RECOMMENDATION_SERVICE_ADDR",
            Self::Ad => "AD_SERVICE_ADDR",
            Self::Checkout => "CHECKOUT_SERVICE_ADDR",
            // The load generator's name for the storefront.
            Self::Frontend => "FRONTEND_ADDR",
        }
    }

    /// Reads the config from `env`, binds, and returns the serving future.
    /// `alone` says this is the process's only service (so `OTEL_SERVICE_NAME`
    /// may rename it).
    pub(crate) async fn launch(
        self,
        env: &Env,
        stop: CancellationToken,
        hub: &TelemetryHub,
        alone: bool,
    ) -> Result<Launched, LaunchError> {
        let telemetry = hub
            .service(self.name(), alone)
            .map_err(|e| LaunchError::Failed(e.into()))?;
        macro_rules! launch {
            ($service:ident) => {{
                let mut config = $service::Config::from_env(env)?;
                config.telemetry = telemetry;
                let app = $service::App::build(config)
                    .await
                    .map_err(|e| LaunchError::Failed(e.into()))?;
                let addr = app.local_addr();
                let serve: BoxFuture<'static, anyhow::Result<()>> =
                    Box::pin(async move { Ok(app.run_until(stop.cancelled_owned()).await?) });
                Ok(Launched {
                    service: self,
                    addr,
                    serve,
                })
            }};
        }
        match self {
            Self::Catalog => launch!(boutique_catalog),
            Self::Currency => launch!(boutique_currency),
            Self::Payment => launch!(boutique_payment),
            Self::Shipping => launch!(boutique_shipping),
            Self::Email => launch!(boutique_email),
            Self::Cart => launch!(boutique_cart),
            Self::Recommendation => launch!(boutique_recommendation),
            Self::Ad => launch!(boutique_ad),
            Self::Checkout => launch!(boutique_checkout),
            Self::Frontend => launch!(boutique_frontend),
        }
    }
}

impl std::str::FromStr for Service {
    type Err = String;

    /// Accepts our names (`cart`) and the upstream ones (`cartservice`, `productcatalogservice`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let name = name.trim().to_ascii_lowercase();
        let short = name.strip_suffix("service").unwrap_or(&name);
        let short = if short == "productcatalog" {
            "catalog"
        } else {
            short
        };
        Self::ALL
            .into_iter()
            .find(|service| service.name() == short)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown service {name:?}; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// A bound service and the future that serves it.
pub(crate) struct Launched {
    pub(crate) service: Service,
    pub(crate) addr: SocketAddr,
    pub(crate) serve: BoxFuture<'static, anyhow::Result<()>>,
}

/// Why the binary stopped: bad config (exit 64) or anything else (exit 1).
#[derive(Debug)]
pub(crate) enum LaunchError {
    Config(ConfigError),
    Failed(anyhow::Error),
}

impl From<ConfigError> for LaunchError {
    fn from(error: ConfigError) -> Self {
        Self::Config(error)
    }
}

impl From<anyhow::Error> for LaunchError {
    fn from(error: anyhow::Error) -> Self {
        Self::Failed(error)
    }
}

/// `boutique <service>`: one service on its upstream port until SIGTERM/SIGINT,
/// with metrics on `ADMIN_PORT` (9464) of the same host.
pub(crate) async fn run_one(service: Service, env: Env) -> Result<(), LaunchError> {
    let stop = CancellationToken::new();
    let host = env.listen_addr(0)?.ip();
    let admin = AdminAddr::from_env(&env, host)?;
    let (hub, admin) = Observability::start(&env, admin, &stop).await?.into_parts();
    let admin = tokio::spawn(admin);
    let launched = service.launch(&env, stop.clone(), &hub, true).await?;
    tracing::info!(service = service.name(), addr = %launched.addr, "Started.");
    let serve = tokio::spawn(launched.serve);
    shutdown::signal().await;
    stop.cancel();
    let served = serve.await.map_err(|e| LaunchError::Failed(e.into()));
    flush(hub).await;
    let admin = admin.await.map_err(|e| LaunchError::Failed(e.into()))?;
    served??;
    admin.map_err(|e| LaunchError::Failed(e.into()))?;
    Ok(())
}
