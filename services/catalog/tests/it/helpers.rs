//! Starts the service and hands out a client.

use boutique_catalog::Config;
use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::product_catalog_service_client::ProductCatalogServiceClient;
use tonic::transport::Channel;

pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: ProductCatalogServiceClient<Channel>,
}

/// A loopback environment on a free port, plus `extra` settings.
pub(crate) fn test_env(extra: &[(&str, &str)]) -> Env {
    extra.iter().fold(
        Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]),
        |env, (name, value)| env.with(name, *value),
    )
}

/// Starts the catalog with the built-in products.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the catalog with extra settings.
pub(crate) async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let config = Config::from_env(&test_env(extra)).unwrap();
    let server = TestServer::start(config).await;
    let client = ProductCatalogServiceClient::new(server.channel().await);
    TestApp { server, client }
}
