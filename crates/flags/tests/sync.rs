//! A flagd server's flags over flagd's sync protocol, against a stand-in
//! flagd (a real tonic server of `flagd.sync.v1.FlagSyncService` on
//! 127.0.0.1:0, or a Unix socket): the first configuration applies, a pushed
//! one applies live, a broken, ended or refused stream is opened again (and
//! what changed meanwhile applies), a restarted flagd is found again, a
//! malformed configuration keeps the last good flags, and the sync context
//! reaches targeting.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use boutique_flags::{
    Flags, FlagsConfig,
    config::{
        HOST_VAR, PROVIDER_ID_VAR, RESOLVER_VAR, RETRY_BACKOFF_MAX_VAR, RETRY_BACKOFF_VAR,
        SELECTOR_VAR, SOCKET_PATH_VAR, SYNC_PORT_VAR,
    },
    names::{AD_FAILURE, PAYMENT_FAILURE},
    proto::{
        SyncFlagsRequest, SyncFlagsResponse,
        flag_sync_service_server::{FlagSyncService, FlagSyncServiceServer},
    },
};
use boutique_platform::{Env, Telemetry};
use boutique_testkit::eventually;
use prost_types::{Struct, Value, value::Kind};
use tokio::{sync::watch, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status};

const PATIENCE: Duration = Duration::from_secs(10);

/// A flag configuration with `adFailure` at `ad` and `paymentFailure` at
/// `payment`, as flagd sends it.
fn flags_json(ad: bool, payment: f64) -> String {
    format!(
        r#"{{"flags": {{
          "adFailure": {{"state": "ENABLED", "variants": {{"on": true, "off": false}},
                         "defaultVariant": "{}"}},
          "paymentFailure": {{"state": "ENABLED", "variants": {{"off": 0, "set": {payment}}},
                              "defaultVariant": "set"}}}},
          "metadata": {{"flagSetId": "boutique"}}}}"#,
        if ad { "on" } else { "off" }
    )
}

/// How open streams are cut.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// The server ends the stream (status OK).
    End,
    /// The stream fails with this code.
    Fail(Code),
}

/// What the stand-in flagd serves and what it was asked.
struct Shared {
    /// The configuration now (and the sync context sent with it).
    config: watch::Sender<(String, Option<Struct>)>,
    /// Bumped to cut every open stream.
    cut: watch::Sender<(u64, Cut)>,
    /// New streams are refused with UNAVAILABLE while set.
    refusing: watch::Sender<bool>,
    /// Each request: provider id, selector field, `flagd-selector` header.
    requests: Mutex<Vec<(String, String, Option<String>)>>,
}

/// The stand-in flagd: the current configuration at once on each stream,
/// then each new one.
#[derive(Clone)]
struct FakeFlagd {
    shared: Arc<Shared>,
    /// Cancelled when this server instance stops: its streams end.
    stopping: CancellationToken,
}

#[tonic::async_trait]
impl FlagSyncService for FakeFlagd {
    type SyncFlagsStream = ReceiverStream<Result<SyncFlagsResponse, Status>>;

    async fn sync_flags(
        &self,
        request: Request<SyncFlagsRequest>,
    ) -> Result<Response<Self::SyncFlagsStream>, Status> {
        let header = request
            .metadata()
            .get("flagd-selector")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = request.into_inner();
        self.shared
            .requests
            .lock()
            .unwrap()
            .push((body.provider_id, body.selector, header));
        if *self.shared.refusing.borrow() || self.stopping.is_cancelled() {
            return Err(Status::unavailable("not now"));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut config = self.shared.config.subscribe();
        let mut cut = self.shared.cut.subscribe();
        cut.borrow_and_update();
        let stopping = self.stopping.clone();
        tokio::spawn(async move {
            loop {
                let (text, context) = config.borrow_and_update().clone();
                let response = SyncFlagsResponse {
                    flag_configuration: text,
                    sync_context: context,
                };
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
                tokio::select! {
                    changed = config.changed() => if changed.is_err() { return },
                    _ = cut.changed() => {
                        let how = cut.borrow().1;
                        if let Cut::Fail(code) = how {
                            let _ = tx.send(Err(Status::new(code, "cut"))).await;
                        }
                        return;
                    }
                    () = stopping.cancelled() => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// A running stand-in flagd.
struct Flagd {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stopping: CancellationToken,
    serving: JoinHandle<()>,
}

impl Flagd {
    /// Serves `config` on `addr` (port 0: any).
    async fn start(addr: SocketAddr, config: String, shared: Option<Arc<Shared>>) -> Self {
        let shared = shared.unwrap_or_else(|| {
            Arc::new(Shared {
                config: watch::channel((String::new(), None)).0,
                cut: watch::channel((0, Cut::End)).0,
                refusing: watch::channel(false).0,
                requests: Mutex::default(),
            })
        });
        shared.config.send_replace((config, None));
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stopping = CancellationToken::new();
        let service = FlagSyncServiceServer::new(FakeFlagd {
            shared: Arc::clone(&shared),
            stopping: stopping.clone(),
        });
        let stopped = stopping.clone();
        let serving = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    stopped.cancelled_owned(),
                )
                .await
                .unwrap();
        });
        Self {
            shared,
            addr,
            stopping,
            serving,
        }
    }

    fn push(&self, config: String) {
        self.shared.config.send_replace((config, None));
    }

    fn push_with_context(&self, config: String, context: Struct) {
        self.shared.config.send_replace((config, Some(context)));
    }

    fn cut(&self, how: Cut) {
        self.shared.cut.send_modify(|(generation, cut)| {
            *generation += 1;
            *cut = how;
        });
    }

    fn refuse(&self, refusing: bool) {
        self.shared.refusing.send_replace(refusing);
    }

    /// Stops serving: streams end, the port is closed.
    async fn stop(self) -> Arc<Shared> {
        self.stopping.cancel();
        self.serving.await.unwrap();
        self.shared
    }
}

/// Flags following the flagd at `addr`, retrying quickly.
fn follow(addr: SocketAddr, extra: &[(&str, &str)]) -> Flags {
    let port = addr.port().to_string();
    let mut env = Env::from_pairs([
        (RESOLVER_VAR, "in-process"),
        (HOST_VAR, "127.0.0.1"),
        (SYNC_PORT_VAR, port.as_str()),
        (RETRY_BACKOFF_VAR, "50"),
        (RETRY_BACKOFF_MAX_VAR, "200"),
    ]);
    for (var, value) in extra {
        env = env.with(var, *value);
    }
    Flags::new(
        &FlagsConfig::from_env(&env).unwrap(),
        &Telemetry::detached("ad"),
    )
}

async fn until(flags: &Flags, ad: bool, payment: f64) {
    eventually("the flags have the values flagd sent", PATIENCE, || async {
        (flags.bool(AD_FAILURE).await == ad && flags.number(PAYMENT_FAILURE).await == payment)
            .then_some(())
    })
    .await;
}

fn streams(flags: &Flags) -> u64 {
    flags.source_status().unwrap().streams
}

async fn until_streams(flags: &Flags, at_least: u64) {
    eventually("the stream is opened again", PATIENCE, || async {
        (streams(flags) >= at_least).then_some(())
    })
    .await;
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test]
async fn follows_flagd_live_and_opens_a_broken_stream_again() {
    let flagd = Flagd::start(loopback(), flags_json(true, 0.25), None).await;
    let flags = follow(
        flagd.addr,
        &[
            (SELECTOR_VAR, "flagSetId=boutique"),
            (PROVIDER_ID_VAR, "boutique-ad"),
        ],
    );
    assert!(flags.is_configured());
    until(&flags, true, 0.25).await;
    assert_eq!(streams(&flags), 1);
    let asked = flagd.shared.requests.lock().unwrap()[0].clone();
    assert_eq!(
        asked,
        (
            "boutique-ad".to_owned(),
            "flagSetId=boutique".to_owned(),
            Some("flagSetId=boutique".to_owned())
        )
    );

    // A change at flagd arrives on the open stream.
    flagd.push(flags_json(false, 0.5));
    until(&flags, false, 0.5).await;
    assert_eq!(streams(&flags), 1, "the same stream");

    // Malformed configurations are refused; the flags in force stay.
    for bad in [
        "{",
        r#"{"flags": []}"#,
        r#"{"flags": {"adFailure": {"state": "ON"}}}"#,
    ] {
        let before = flags.source_status().unwrap().refused;
        flagd.push(bad.to_owned());
        eventually("the bad configuration is refused", PATIENCE, || async {
            (flags.source_status().unwrap().refused > before).then_some(())
        })
        .await;
        assert!(!flags.bool(AD_FAILURE).await, "{bad}");
        assert_eq!(flags.number(PAYMENT_FAILURE).await, 0.5, "{bad}");
    }

    // The stream ends while flagd refuses new ones: the last good flags hold
    // meanwhile, and what changed is there once a stream opens again.
    flagd.refuse(true);
    flagd.cut(Cut::End);
    eventually("the reopened stream is refused", PATIENCE, || async {
        (flagd.shared.requests.lock().unwrap().len() >= 3).then_some(())
    })
    .await;
    flagd.push(flags_json(true, 1.0));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!flags.bool(AD_FAILURE).await, "no stream: the last flags");
    assert_eq!(flags.number(PAYMENT_FAILURE).await, 0.5);
    flagd.refuse(false);
    until(&flags, true, 1.0).await;
    assert_eq!(streams(&flags), 2);

    // A stream that breaks with an error is opened again too.
    flagd.cut(Cut::Fail(Code::Internal));
    until_streams(&flags, 3).await;
    flagd.push(flags_json(false, 0.0));
    until(&flags, false, 0.0).await;
    flagd.stop().await;
}

#[tokio::test]
async fn a_restarted_flagd_is_found_again() {
    let flagd = Flagd::start(loopback(), flags_json(true, 0.0), None).await;
    let addr = flagd.addr;
    let flags = follow(addr, &[]);
    until(&flags, true, 0.0).await;

    // flagd goes away: its port refuses connections, the flags hold.
    let shared = flagd.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(flags.bool(AD_FAILURE).await, "flagd down: the last flags");

    // Back on the same port with other flags.
    let flagd = Flagd::start(addr, flags_json(false, 0.75), Some(shared)).await;
    until(&flags, false, 0.75).await;
    assert!(streams(&flags) >= 2);
    flagd.stop().await;
}

#[tokio::test]
async fn the_sync_context_reaches_targeting() {
    let targeted = r#"{"flags": {"adFailure": {"state": "ENABLED",
        "variants": {"on": true, "off": false}, "defaultVariant": "off",
        "targeting": {"if": [{"==": [{"var": "region"}, "eu"]}, "on", "off"]}}}}"#;
    let flagd = Flagd::start(loopback(), flags_json(false, 0.0), None).await;
    let flags = follow(flagd.addr, &[]);
    until(&flags, false, 0.0).await;
    let context = Struct {
        fields: [(
            "region".to_owned(),
            Value {
                kind: Some(Kind::StringValue("eu".to_owned())),
            },
        )]
        .into(),
    };
    flagd.push_with_context(targeted.to_owned(), context);
    eventually("the sync context picks the variant", PATIENCE, || async {
        flags.bool(AD_FAILURE).await.then_some(())
    })
    .await;
    // The evaluation's own context wins.
    assert!(!flags.bool_in(AD_FAILURE, &[("region", "us")]).await);
    flagd.stop().await;
}

#[tokio::test]
async fn follows_flagd_on_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flagd.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let shared = Arc::new(Shared {
        config: watch::channel((flags_json(true, 0.5), None)).0,
        cut: watch::channel((0, Cut::End)).0,
        refusing: watch::channel(false).0,
        requests: Mutex::default(),
    });
    let stopping = CancellationToken::new();
    let service = FlagSyncServiceServer::new(FakeFlagd {
        shared: Arc::clone(&shared),
        stopping: stopping.clone(),
    });
    let stopped = stopping.clone();
    let serving = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::UnixListenerStream::new(listener),
                stopped.cancelled_owned(),
            )
            .await
            .unwrap();
    });
    let env = Env::from_pairs([(SOCKET_PATH_VAR, path.to_str().unwrap())]);
    let flags = Flags::new(
        &FlagsConfig::from_env(&env).unwrap(),
        &Telemetry::detached("ad"),
    );
    until(&flags, true, 0.5).await;
    shared.config.send_replace((flags_json(false, 0.0), None));
    until(&flags, false, 0.0).await;
    stopping.cancel();
    serving.await.unwrap();
}
