//! The gRPC bootstrap over real sockets: health Check and Watch, reflection,
//! and a graceful drain bounded by the grace period.

use std::{sync::Arc, time::Duration};

use boutique_platform::{GrpcServer, Telemetry, testing::TestServer};
use boutique_proto::{
    Ad, AdRequest, AdResponse,
    ad_service_client::AdServiceClient,
    ad_service_server::{AdService, AdServiceServer},
};
use tokio::sync::{Notify, oneshot};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

/// Answers immediately, or, for the context key "wait", once `release` is notified.
#[derive(Clone, Default)]
struct Gate {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

#[tonic::async_trait]
impl AdService for Gate {
    async fn get_ads(&self, request: Request<AdRequest>) -> Result<Response<AdResponse>, Status> {
        if request.get_ref().context_keys.iter().any(|k| k == "wait") {
            self.entered.notify_one();
            self.release.notified().await;
        }
        Ok(Response::new(AdResponse {
            ads: vec![Ad {
                redirect_url: "/".into(),
                text: "ok".into(),
            }],
        }))
    }
}

async fn start(gate: Gate, grace: Duration) -> TestServer {
    let server = GrpcServer::bind(
        &Telemetry::detached("test"),
        "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
    )
    .await
    .unwrap()
    .add_service(AdServiceServer::new(gate))
    .with_grace(grace);
    TestServer::spawn(server.local_addr(), |stop| server.run_until(stop))
}

async fn check(server: &TestServer, service: &str) -> Result<ServingStatus, Status> {
    let mut health = HealthClient::new(server.channel().await);
    let reply = health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await?;
    Ok(reply.into_inner().status())
}

#[tokio::test]
async fn reports_serving_for_the_server_and_each_service() {
    let server = start(Gate::default(), Duration::from_secs(5)).await;
    assert_eq!(check(&server, "").await.unwrap(), ServingStatus::Serving);
    assert_eq!(
        check(&server, "hipstershop.AdService").await.unwrap(),
        ServingStatus::Serving
    );
    let unknown = check(&server, "hipstershop.NoSuchService")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn lists_services_through_reflection() {
    let server = start(Gate::default(), Duration::from_secs(5)).await;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reply {reply:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "hipstershop.AdService",
        "hipstershop.CartService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn drains_in_flight_calls_and_watchers_see_not_serving() {
    let gate = Gate::default();
    let server = start(gate.clone(), Duration::from_secs(30)).await;
    let channel = server.channel().await;

    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.next().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );

    // A call is in flight when shutdown starts.
    let mut client = AdServiceClient::new(channel);
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(async move {
        let reply = client
            .get_ads(AdRequest {
                context_keys: vec!["wait".into()],
            })
            .await;
        let _ = done_tx.send(reply);
    });
    gate.entered.notified().await;

    let stopping = tokio::spawn(server.stop());
    assert_eq!(
        watch.next().await.unwrap().unwrap().status(),
        ServingStatus::NotServing
    );
    assert!(
        !stopping.is_finished(),
        "the server must wait for the in-flight call"
    );
    // A watch stream is a call too: the drain would wait for it until the grace ends.
    drop(watch);

    gate.release.notify_one();
    let reply = done_rx
        .await
        .unwrap()
        .expect("the in-flight call completes during the drain");
    assert_eq!(reply.into_inner().ads.len(), 1);
    stopping.await.unwrap();
}

#[tokio::test]
async fn gives_up_on_calls_that_outlast_the_grace_period() {
    let gate = Gate::default();
    let server = start(gate.clone(), Duration::from_millis(200)).await;
    let mut client = AdServiceClient::new(server.channel().await);
    let call = tokio::spawn(async move {
        client
            .get_ads(AdRequest {
                context_keys: vec!["wait".into()],
            })
            .await
    });
    gate.entered.notified().await;
    // Never released: the server must still stop, after the grace period.
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("shutdown is bounded by the grace period");
    call.abort();
}

#[tokio::test]
async fn a_failing_readiness_check_leaves_liveness_alone() {
    let telemetry = Telemetry::detached("ad");
    let server = GrpcServer::bind(
        &telemetry,
        "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
    )
    .await
    .unwrap()
    .add_service(AdServiceServer::new(Gate::default()));
    let readiness = server.readiness();
    let server = TestServer::run(server.into());
    let health = HealthClient::new(server.channel().await);
    let status = |name: &str| {
        let mut health = health.clone();
        let request = HealthCheckRequest {
            service: name.to_owned(),
        };
        async move { health.check(request).await.unwrap().into_inner().status() }
    };
    boutique_testkit::eventually(
        "the server reports ready",
        Duration::from_secs(5),
        || async { readiness.is_ready().then_some(()) },
    )
    .await;
    let names = ["", "hipstershop.AdService"];
    for name in names {
        assert_eq!(status(name).await, ServingStatus::Serving, "{name}");
    }

    readiness.report("database", false).await;
    readiness.report("queue", false).await;
    for name in names {
        assert_eq!(status(name).await, ServingStatus::NotServing, "{name}");
    }
    assert_eq!(status("liveness").await, ServingStatus::Serving);

    readiness.report("database", true).await;
    assert_eq!(
        status("").await,
        ServingStatus::NotServing,
        "queue still fails"
    );
    readiness.report("queue", true).await;
    for name in names {
        assert_eq!(status(name).await, ServingStatus::Serving, "{name}");
    }
    server.stop().await;
}
