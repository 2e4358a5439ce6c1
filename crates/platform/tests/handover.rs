//! A port handed from a draining server to the next (a rolling restart on one
//! host, `REUSE_PORT`): a gRPC caller hammering the port through a guarded
//! channel sees no call fail, not even one its connection dropped unsent at
//! the GOAWAY; an HTTP/1.1 client on a keep-alive connection gets its next
//! answer, told to close the connection, instead of a connection closed
//! under its request.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, routing::get};
use boutique_platform::{
    GrpcServer, HttpServer, Listen, Telemetry,
    call::CallContext,
    peers::PeerAddr,
    resilience::Policy,
    testing::{TestServer, sample},
};
use boutique_proto::{
    AdRequest, AdResponse,
    ad_service_client::AdServiceClient,
    ad_service_server::{AdService, AdServiceServer},
};
use boutique_testkit::{eventually, free_port};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// How many times the port is handed over.
const HANDOVERS: usize = 4;

/// Counts the calls it answers.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl Counting {
    fn answered(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[tonic::async_trait]
impl AdService for Counting {
    async fn get_ads(&self, _: Request<AdRequest>) -> Result<Response<AdResponse>, Status> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(AdResponse::default()))
    }
}

async fn serve_ads(listen: Listen, counting: &Counting) -> TestServer {
    let server = GrpcServer::bind(&Telemetry::detached("ad"), listen)
        .await
        .unwrap()
        .add_service(AdServiceServer::new(counting.clone()));
    TestServer::run(server.into())
}

/// Waits until `server` has answered `more` calls beyond `since`.
async fn answers(server: &Counting, since: usize, more: usize, what: &str) {
    eventually(what, Duration::from_secs(10), || async move {
        (server.answered() >= since + more).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_port_handed_to_the_next_server_fails_no_call() {
    let listen = Listen {
        addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
        reuse_port: true,
    };
    let mut serving = Counting::default();
    let mut server = serve_ads(listen, &serving).await;

    let telemetry = Telemetry::detached("frontend");
    let peer = PeerAddr::parse("AD_SERVICE_ADDR", &listen.addr.to_string())
        .unwrap()
        .with_policy(Policy::default());
    let client = AdServiceClient::new(peer.lazy_channel(&telemetry));
    // Callers that send each call once (as writes are sent), back to back, so
    // calls are on their way whenever the GOAWAY comes.
    let stop = CancellationToken::new();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (client, stop) = (client.clone(), stop.clone());
            tokio::spawn(async move {
                let mut failed = Vec::new();
                while !stop.is_cancelled() {
                    let mut client = client.clone();
                    let answer = CallContext::with_budget(Duration::from_secs(5))
                        .call("ad", AdRequest::default(), |request| async move {
                            client.get_ads(request).await
                        })
                        .await;
                    if let Err(status) = answer {
                        failed.push(status);
                    }
                    // A refusal can be ready at once; let the test go on.
                    tokio::task::yield_now().await;
                }
                failed
            })
        })
        .collect();
    answers(&serving, 0, 200, "the first server answering").await;

    // Each hand-over is a race between GOAWAY and the calls on their way;
    // a few of them make one lost call all but certain to show.
    for handover in 1..=HANDOVERS {
        let next = Counting::default();
        let next_server = serve_ads(listen, &next).await;
        server.stop().await;
        let answered = serving.answered();
        answers(&next, 0, 200, &format!("server {handover} answering")).await;
        assert_eq!(
            serving.answered(),
            answered,
            "a server answered after it stopped"
        );
        (server, serving) = (next_server, next);
    }
    stop.cancel();
    let mut failed = Vec::new();
    for caller in callers {
        failed.extend(caller.await.unwrap());
    }
    assert!(failed.is_empty(), "calls failed: {failed:#?}");
    // What the hand-over cost: calls sent again after their connection
    // dropped them unsent (how many depends on timing; none is a fine run).
    let resent = sample(
        &telemetry.metrics().registry().render(),
        "boutique_client_retries_total",
        &[
            ("peer", "ad"),
            ("outcome", "resent_unsent"),
            ("service_name", "frontend"),
        ],
    );
    assert!(resent.is_some(), "the resend counter is exported");
    server.stop().await;
}

#[tokio::test]
async fn a_draining_http_server_answers_its_keep_alive_clients_before_closing() {
    let router = Router::new().route("/", get(|| async { "ok" }));
    // A hand-over far longer than the test, so it ends only because the
    // client leaves.
    let server = HttpServer::bind("test", SocketAddr::from(([127, 0, 0, 1], 0)), router)
        .await
        .unwrap()
        .with_grace(Duration::from_secs(120))
        .with_linger(Duration::from_secs(60));
    let addr = server.local_addr();
    let stop = CancellationToken::new();
    let serving = tokio::spawn(server.run_until(stop.clone().cancelled_owned()));

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let mut connection = tokio::spawn(connection);
    let get = || {
        hyper::Request::get("/")
            .header(hyper::header::HOST, addr.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let first = sender.send_request(get()).await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(!first.headers().contains_key(hyper::header::CONNECTION));

    // The drain begins: the listener closes at once (a new connection would go
    // to whoever shares the port, or be refused here)...
    stop.cancel();
    eventually("the listener closed", Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(addr)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    // ...while the idle keep-alive connection stays open (closing it would
    // race the client's next request on it)...
    let closed = tokio::time::timeout(Duration::from_millis(300), &mut connection).await;
    assert!(
        closed.is_err(),
        "the server closed an idle connection at once"
    );
    // ...and its next request is answered, with word to close it.
    sender.ready().await.unwrap();
    let second = sender.send_request(get()).await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()[hyper::header::CONNECTION], "close");
    connection.await.unwrap().unwrap();
    // With its last client gone, the server stops without waiting out the
    // hand-over.
    tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("the server stops once its clients left")
        .unwrap()
        .unwrap();
}
