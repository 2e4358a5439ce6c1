//! Starts the service and hands out a client and request builders.

use boutique_currency::Config;
use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::{
    CurrencyConversionRequest, Money, currency_service_client::CurrencyServiceClient,
};
use tonic::transport::Channel;

pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: CurrencyServiceClient<Channel>,
}

/// The service with the built-in rates.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(local_env()).await
}

/// The service configured from `env`, which should listen on 127.0.0.1:0.
pub(crate) async fn spawn_app_with(env: Env) -> TestApp {
    let server = TestServer::start(Config::from_env(&env).unwrap()).await;
    let client = CurrencyServiceClient::new(server.channel().await);
    TestApp { server, client }
}

/// Loopback on a free port.
pub(crate) fn local_env() -> Env {
    Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")])
}

pub(crate) fn money(code: &str, units: i64, nanos: i32) -> Money {
    Money {
        currency_code: code.into(),
        units,
        nanos,
    }
}

pub(crate) fn request(from: Money, to_code: &str) -> CurrencyConversionRequest {
    CurrencyConversionRequest {
        from: Some(from),
        to_code: to_code.into(),
    }
}
