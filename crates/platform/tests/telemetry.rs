//! The telemetry layers over real sockets: a traced client channel calls a
//! server behind the telemetry layer; both count the call under their own
//! `service_name`, and the caller's trace context and baggage arrive.

use boutique_platform::{
    GrpcServer, Telemetry,
    peers::PeerAddr,
    telemetry::trace,
    testing::{TestServer, sample},
};
use boutique_proto::{
    Ad, AdRequest, AdResponse,
    ad_service_client::AdServiceClient,
    ad_service_server::{AdService, AdServiceServer},
};
use http::HeaderMap;
use opentelemetry::trace::FutureExt as _;
use tonic::{Request, Response, Status};

/// Answers with the trace headers it received; refuses the context key "bad".
struct Echo;

#[tonic::async_trait]
impl AdService for Echo {
    async fn get_ads(&self, request: Request<AdRequest>) -> Result<Response<AdResponse>, Status> {
        if request.get_ref().context_keys.iter().any(|k| k == "bad") {
            return Err(Status::invalid_argument("bad key"));
        }
        let header = |name: &str| {
            request
                .metadata()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        Ok(Response::new(AdResponse {
            ads: vec![Ad {
                redirect_url: header("traceparent"),
                text: header("baggage"),
            }],
        }))
    }
}

/// [`Echo`] behind a `GrpcServer` recording into `telemetry`.
async fn serve_echo(telemetry: &Telemetry) -> TestServer {
    let server = GrpcServer::bind(
        telemetry,
        "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
    )
    .await
    .unwrap()
    .add_service(AdServiceServer::new(Echo));
    TestServer::spawn(server.local_addr(), |stop| server.run_until(stop))
}

#[tokio::test]
async fn calls_are_counted_on_both_sides_and_carry_the_trace_context() {
    let server_telemetry = Telemetry::detached("ad");
    let server = serve_echo(&server_telemetry).await;
    let client_telemetry = Telemetry::detached("frontend");
    let channel = PeerAddr::parse("AD_SERVICE_ADDR", &server.addr().to_string())
        .unwrap()
        .lazy_channel(&client_telemetry);
    let mut client = AdServiceClient::new(channel);

    // A call made inside a caller's trace, with baggage.
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let mut incoming = HeaderMap::new();
    incoming.insert("traceparent", traceparent.parse().unwrap());
    incoming.insert("baggage", "synthetic=true".parse().unwrap());
    let caller = trace::extract(&incoming);
    let reply = client
        .get_ads(AdRequest::default())
        .with_context(caller)
        .await
        .unwrap()
        .into_inner();
    // Tracing is off, so the context passes through unchanged.
    assert_eq!(reply.ads[0].redirect_url, traceparent);
    assert_eq!(reply.ads[0].text, "synthetic=true");

    // A refused call and a call with no context.
    let refused = client
        .get_ads(AdRequest {
            context_keys: vec!["bad".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let reply = client
        .get_ads(AdRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.ads[0].redirect_url, "", "no trace context is made up");

    let served = server_telemetry.metrics().registry().render();
    let labels = |service: &'static str, code: Option<&'static str>| {
        let mut labels = vec![
            ("service_name", service),
            ("grpc_service", "hipstershop.AdService"),
            ("grpc_method", "GetAds"),
        ];
        labels.extend(code.map(|code| ("grpc_code", code)));
        labels
    };
    let handled = "grpc_server_handled_total";
    let ok = labels("ad", Some("OK"));
    assert_eq!(sample(&served, handled, &ok), Some(2.0), "{served}");
    let invalid = labels("ad", Some("InvalidArgument"));
    assert_eq!(sample(&served, handled, &invalid), Some(1.0));
    let count = "grpc_server_handling_seconds_count";
    assert_eq!(sample(&served, count, &labels("ad", None)), Some(3.0));
    let mut fastest = labels("ad", None);
    fastest.push(("le", "0.0001"));
    assert!(sample(&served, "grpc_server_handling_seconds_bucket", &fastest).is_some());

    let called = client_telemetry.metrics().registry().render();
    let ok = labels("frontend", Some("OK"));
    assert_eq!(
        sample(&called, "grpc_client_handled_total", &ok),
        Some(2.0),
        "{called}"
    );
    assert!(
        sample(&called, handled, &ok).is_none(),
        "the client's registry has only its own calls"
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_methods_and_unreachable_servers_keep_labels_bounded() {
    let server_telemetry = Telemetry::detached("ad");
    let server = serve_echo(&server_telemetry).await;

    // A path the server does not serve: Unimplemented, counted as unknown.
    let mut raw = tonic::client::Grpc::new(server.channel().await);
    raw.ready().await.unwrap();
    let status = raw
        .unary::<AdRequest, AdResponse, _>(
            Request::new(AdRequest::default()),
            "/hipstershop.AdService/NoSuchMethod".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    let served = server_telemetry.metrics().registry().render();
    assert_eq!(
        sample(
            &served,
            "grpc_server_handled_total",
            &[
                ("service_name", "ad"),
                ("grpc_service", "unknown"),
                ("grpc_method", "unknown"),
                ("grpc_code", "Unimplemented"),
            ]
        ),
        Some(1.0),
        "{served}"
    );
    assert!(!served.contains("NoSuchMethod"));
    server.stop().await;

    // Nobody listens on port 1: the client counts Unavailable.
    let client_telemetry = Telemetry::detached("frontend");
    let channel = PeerAddr::parse("AD_SERVICE_ADDR", "127.0.0.1:1")
        .unwrap()
        .lazy_channel(&client_telemetry);
    let status = AdServiceClient::new(channel)
        .get_ads(AdRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let called = client_telemetry.metrics().registry().render();
    assert_eq!(
        sample(
            &called,
            "grpc_client_handled_total",
            &[
                ("service_name", "frontend"),
                ("grpc_service", "hipstershop.AdService"),
                ("grpc_method", "GetAds"),
                ("grpc_code", "Unavailable"),
            ]
        ),
        Some(1.0),
        "{called}"
    );
}
