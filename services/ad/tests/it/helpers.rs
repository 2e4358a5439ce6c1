//! Starts the service and hands out a client.

use boutique_ad::Config;
use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::{Ad, AdRequest, ad_service_client::AdServiceClient};
use tonic::transport::Channel;

pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: AdServiceClient<Channel>,
}

impl TestApp {
    /// GetAds for `keys`, failing the test on an error status.
    pub(crate) async fn ads(&mut self, keys: &[&str]) -> Vec<Ad> {
        let request = AdRequest {
            context_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        };
        self.client
            .get_ads(request)
            .await
            .unwrap_or_else(|status| panic!("{keys:?}: {status:?}"))
            .into_inner()
            .ads
    }
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The service with extra settings (a flag file, say).
pub(crate) async fn spawn_app_with(settings: &[(&str, String)]) -> TestApp {
    let env = settings.iter().fold(
        Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]),
        |env, (name, value)| env.with(name, value.clone()),
    );
    let server = TestServer::start(Config::from_env(&env).unwrap()).await;
    let client = AdServiceClient::new(server.channel().await);
    TestApp { server, client }
}
