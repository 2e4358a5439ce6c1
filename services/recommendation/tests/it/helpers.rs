//! Starts a catalog and the recommendation service, and hands out a client.

use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::recommendation_service_client::RecommendationServiceClient;
use boutique_recommendation::Config;
use tonic::transport::Channel;

pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: RecommendationServiceClient<Channel>,
}

fn loopback() -> Env {
    Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")])
}

/// A real catalog service with the built-in products.
pub(crate) async fn spawn_catalog() -> TestServer {
    let config = boutique_catalog::Config::from_env(&loopback()).unwrap();
    TestServer::start(config).await
}

/// The recommendation service pointed at the catalog on `catalog`.
pub(crate) async fn spawn_app(catalog: &TestServer) -> TestApp {
    spawn_app_with(catalog, &[]).await
}

/// The same with extra settings (e.g. `CACHE_TTL`).
pub(crate) async fn spawn_app_with(catalog: &TestServer, settings: &[(&str, &str)]) -> TestApp {
    let mut env = loopback().with("PRODUCT_CATALOG_SERVICE_ADDR", catalog.addr().to_string());
    for (name, value) in settings {
        env = env.with(name, *value);
    }
    let server = TestServer::start(Config::from_env(&env).unwrap()).await;
    let client = RecommendationServiceClient::new(server.channel().await);
    TestApp { server, client }
}

/// The ids of the built-in catalog, in catalog order.
pub(crate) fn catalog_ids() -> Vec<String> {
    boutique_catalog::embedded_catalog()
        .products()
        .iter()
        .map(|p| p.id.clone())
        .collect()
}
