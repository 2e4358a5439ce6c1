//! Starts the service and hands out a client.

use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::shipping_service_client::ShippingServiceClient;
use boutique_shipping::Config;
use tonic::transport::Channel;

pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: ShippingServiceClient<Channel>,
}

pub(crate) async fn spawn_app() -> TestApp {
    let env = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]);
    let server = TestServer::start(Config::from_env(&env).unwrap()).await;
    let client = ShippingServiceClient::new(server.channel().await);
    TestApp { server, client }
}
