//! The resilience policies over real sockets: a guarded channel (as every
//! service gets from `Peers`) calls a fake ad service on loopback whose
//! answers the test controls, a closed port, a restarted server, or a
//! black hole (a listener that accepts and never answers), or the testkit's
//! fault-injecting proxy (latency, a starved link, a peer gone silent
//! mid-connection, resets). Assertions are on what reached the peer, on
//! status codes and on the metrics, never on durations.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    time::Duration,
};

use boutique_platform::{
    GrpcServer, Telemetry,
    call::CallContext,
    peers::PeerAddr,
    resilience::{BreakerState, Policy, Rejection, rejected_locally},
    telemetry::grpc::TracedChannel,
    testing::{TestServer, sample},
};
use boutique_proto::{
    AdRequest, AdResponse,
    ad_service_client::AdServiceClient,
    ad_service_server::{AdService, AdServiceServer},
};
use boutique_testkit::proxy::{Fault, FaultProxy};
use tokio::{net::TcpListener, sync::Semaphore};
use tonic::{Code, Request, Response, Status};

const OK: u8 = 0;
const UNAVAILABLE: u8 = 1;
const HOLD: u8 = 2;

/// What the fake answers, and what it saw.
struct Control {
    mode: AtomicU8,
    /// Calls to fail with UNAVAILABLE before `mode` applies.
    fail_first: AtomicUsize,
    seen: AtomicUsize,
    release: Semaphore,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            mode: AtomicU8::new(OK),
            fail_first: AtomicUsize::new(0),
            seen: AtomicUsize::new(0),
            release: Semaphore::new(0),
        }
    }
}

struct Fake(Arc<Control>);

#[tonic::async_trait]
impl AdService for Fake {
    async fn get_ads(&self, _: Request<AdRequest>) -> Result<Response<AdResponse>, Status> {
        let control = &self.0;
        control.seen.fetch_add(1, Ordering::SeqCst);
        let fail_first = control
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if fail_first.is_ok() {
            return Err(Status::unavailable("flaky"));
        }
        match control.mode.load(Ordering::SeqCst) {
            UNAVAILABLE => Err(Status::unavailable("down")),
            HOLD => {
                control.release.acquire().await.unwrap().forget();
                Ok(Response::new(AdResponse::default()))
            }
            _ => Ok(Response::new(AdResponse::default())),
        }
    }
}

async fn serve(addr: SocketAddr, control: &Arc<Control>) -> TestServer {
    let telemetry = Telemetry::detached("ad");
    let server = GrpcServer::bind(&telemetry, addr)
        .await
        .unwrap()
        .add_service(AdServiceServer::new(Fake(Arc::clone(control))));
    TestServer::run(server.into())
}

/// The caller: a guarded channel to `addr` under `policy`, with its telemetry.
struct Caller {
    peer: PeerAddr,
    client: AdServiceClient<TracedChannel>,
    telemetry: Telemetry,
}

impl Caller {
    fn new(addr: &str, policy: Policy) -> Self {
        let telemetry = Telemetry::detached("frontend");
        let peer = PeerAddr::parse("AD_SERVICE_ADDR", addr)
            .unwrap()
            .with_policy(policy);
        let client = AdServiceClient::new(peer.lazy_channel(&telemetry));
        Self {
            peer,
            client,
            telemetry,
        }
    }

    async fn call(&self, budget: Duration) -> Result<AdResponse, Status> {
        let mut client = self.client.clone();
        CallContext::with_budget(budget)
            .call("ad", AdRequest::default(), |r| async move {
                client.get_ads(r).await
            })
            .await
    }

    async fn call_idempotent(&self, budget: Duration) -> Result<AdResponse, Status> {
        CallContext::with_budget(budget)
            .call_idempotent(
                "ad",
                &self.client,
                AdRequest::default(),
                |mut c, r| async move { c.get_ads(r).await },
            )
            .await
    }

    fn state(&self) -> BreakerState {
        self.peer.guards().breaker_state()
    }

    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut all = vec![("service_name", "frontend"), ("peer", "ad")];
        all.extend_from_slice(labels);
        let text = self.telemetry.metrics().registry().render();
        sample(&text, name, &all).unwrap_or_else(|| panic!("no {name} {all:?} in\n{text}"))
    }

    fn rejected(&self, reason: Rejection) -> f64 {
        self.metric(
            "boutique_client_rejected_total",
            &[("reason", reason.label())],
        )
    }

    fn retries(&self, outcome: &str) -> f64 {
        self.metric("boutique_client_retries_total", &[("outcome", outcome)])
    }
}

fn policy(breaker_failures: u32, open_for: Duration) -> Policy {
    Policy {
        breaker_failures,
        breaker_open_for: open_for,
        retries: 0,
        ..Policy::default()
    }
}

const PATIENCE: Duration = Duration::from_secs(5);
/// How long a test waits for a breaker to close or a link to heal: a probe,
/// often a failed call on the old connection, and a new connection, on a
/// machine that may be busy.
const RECOVERY: Duration = Duration::from_secs(30);
/// How long a breaker stays open: long enough that a busy machine does not
/// let it half-open between the calls a test makes while it is open.
const OPEN_FOR: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(60);

fn assert_circuit_open(result: Result<AdResponse, Status>) {
    let status = result.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("circuit open"), "{status:?}");
    assert!(status.message().contains("ad"), "{status:?}");
    assert_eq!(rejected_locally(&status), Some(Rejection::BreakerOpen));
}

#[tokio::test]
async fn the_breaker_opens_on_failures_fails_fast_and_closes_after_one_probe() {
    let control = Arc::new(Control::default());
    control.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let caller = Caller::new(&server.addr().to_string(), policy(3, OPEN_FOR));

    for _ in 0..3 {
        let status = caller.call(PATIENCE).await.unwrap_err();
        assert_eq!(status.message(), "down");
    }
    assert_eq!(caller.state(), BreakerState::Open);
    assert_eq!(caller.metric("boutique_client_breaker_state", &[]), 2.0);
    // Open: refused here, the peer sees nothing.
    for _ in 0..5 {
        assert_circuit_open(caller.call(PATIENCE).await);
    }
    assert_eq!(control.seen.load(Ordering::SeqCst), 3);
    assert_eq!(caller.rejected(Rejection::BreakerOpen), 5.0);

    // Half-open: one probe reaches the peer (held there), the rest are refused.
    control.mode.store(HOLD, Ordering::SeqCst);
    let probe = boutique_testkit::eventually("a probe reaches the peer", RECOVERY, || async {
        let client = caller.client.clone();
        let task = tokio::spawn(async move {
            let mut client = client;
            CallContext::with_budget(PATIENCE)
                .call("ad", AdRequest::default(), |r| async move {
                    client.get_ads(r).await
                })
                .await
        });
        // Either the breaker refuses it at once, or it is the probe and
        // stays at the peer until released.
        loop {
            if task.is_finished() {
                assert_circuit_open(task.await.unwrap());
                return None;
            }
            if control.seen.load(Ordering::SeqCst) == 4 {
                return Some(task);
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(caller.state(), BreakerState::HalfOpen);
    assert_circuit_open(caller.call(PATIENCE).await);
    assert_eq!(control.seen.load(Ordering::SeqCst), 4);

    // The probe succeeds: closed, and calls reach the peer again.
    control.release.add_permits(1);
    probe.await.unwrap().unwrap();
    assert_eq!(caller.state(), BreakerState::Closed);
    assert_eq!(caller.metric("boutique_client_breaker_state", &[]), 0.0);
    control.mode.store(OK, Ordering::SeqCst);
    caller.call(PATIENCE).await.unwrap();
    assert_eq!(control.seen.load(Ordering::SeqCst), 5);
    server.stop().await;
}

#[tokio::test]
async fn a_probe_whose_caller_goes_away_still_closes_the_breaker() {
    let control = Arc::new(Control::default());
    control.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let caller = Caller::new(&server.addr().to_string(), policy(1, OPEN_FOR));
    caller.call(PATIENCE).await.unwrap_err();
    assert_eq!(caller.state(), BreakerState::Open);

    // The probe reaches the peer (held there), and its caller gives up on
    // it, as a caller does when a call it sent beside the probe was refused.
    control.mode.store(HOLD, Ordering::SeqCst);
    let probe = boutique_testkit::eventually("a probe reaches the peer", RECOVERY, || async {
        let client = caller.client.clone();
        let task = tokio::spawn(async move {
            let mut client = client;
            CallContext::with_budget(PATIENCE)
                .call("ad", AdRequest::default(), |r| async move {
                    client.get_ads(r).await
                })
                .await
        });
        loop {
            if task.is_finished() {
                assert_circuit_open(task.await.unwrap());
                return None;
            }
            if control.seen.load(Ordering::SeqCst) == 2 {
                return Some(task);
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    probe.abort();
    assert!(probe.await.unwrap_err().is_cancelled());
    assert_eq!(caller.state(), BreakerState::HalfOpen);

    // The peer answers the probe nobody waits for: the breaker hears it and
    // closes, with no other call.
    control.release.add_permits(1);
    boutique_testkit::eventually("the breaker closes", RECOVERY, || async {
        (caller.state() == BreakerState::Closed).then_some(())
    })
    .await;
    control.mode.store(OK, Ordering::SeqCst);
    caller.call(PATIENCE).await.unwrap();
    assert_eq!(control.seen.load(Ordering::SeqCst), 3);
    server.stop().await;
}

#[tokio::test]
async fn a_dead_peer_opens_the_breaker_and_a_restart_on_the_same_port_closes_it() {
    let control = Arc::new(Control::default());
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let addr = server.addr();
    let caller = Caller::new(&addr.to_string(), policy(2, OPEN_FOR));
    caller.call(PATIENCE).await.unwrap();
    server.stop().await;

    // Dead: the port is closed.
    for _ in 0..2 {
        let status = caller.call(PATIENCE).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert_eq!(rejected_locally(&status), None, "{status:?}");
    }
    assert_eq!(caller.state(), BreakerState::Open);
    assert_circuit_open(caller.call(PATIENCE).await);

    // Back on the same port: a probe finds it and the breaker closes.
    let server = serve(addr, &control).await;
    boutique_testkit::eventually("the breaker closes", RECOVERY, || async {
        caller.call(PATIENCE).await.ok()
    })
    .await;
    assert_eq!(
        caller.state(),
        BreakerState::Closed,
        "{:?}",
        caller.peer.guards()
    );
    assert_eq!(control.seen.load(Ordering::SeqCst), 2);
    server.stop().await;
}

/// A listener that accepts and never answers; counts the connections.
async fn black_hole() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn calls_to_a_black_hole_end_at_their_deadline_and_then_open_the_breaker() {
    let (addr, accepted) = black_hole().await;
    let caller = Caller::new(&addr.to_string(), policy(3, LONG));
    for _ in 0..3 {
        let status = caller.call(Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    }
    assert_eq!(caller.state(), BreakerState::Open);
    let connections = accepted.load(Ordering::SeqCst);
    assert!(connections >= 1);
    for _ in 0..10 {
        // A deadline far away: an answer at once can only be the breaker's.
        assert_circuit_open(caller.call(LONG).await);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), connections);
    assert_eq!(caller.rejected(Rejection::BreakerOpen), 10.0);
}

#[tokio::test]
async fn with_the_guard_off_every_call_reaches_the_peer_once_and_deadlines_still_hold() {
    let (addr, accepted) = black_hole().await;
    let off = Policy {
        enabled: false,
        ..policy(1, LONG)
    };
    let caller = Caller::new(&addr.to_string(), off.clone());
    for _ in 0..3 {
        // No breaker to open: each call waits for its deadline.
        let status = caller.call(Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    }
    assert_eq!(caller.rejected(Rejection::BreakerOpen), 0.0);
    assert!(accepted.load(Ordering::SeqCst) >= 1);

    // No retries either, though the policy asks for them.
    let control = Arc::new(Control::default());
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let caller = Caller::new(
        &server.addr().to_string(),
        Policy {
            retries: 2,
            retry_backoff: Duration::from_millis(1),
            ..off
        },
    );
    control.fail_first.store(1, Ordering::SeqCst);
    let status = caller.call_idempotent(PATIENCE).await.unwrap_err();
    assert_eq!(status.message(), "flaky");
    assert_eq!(control.seen.load(Ordering::SeqCst), 1);
    caller.call_idempotent(PATIENCE).await.unwrap();
    assert_eq!(control.seen.load(Ordering::SeqCst), 2);
    server.stop().await;
}

#[tokio::test]
async fn a_full_bulkhead_refuses_at_once_and_frees_up_when_calls_finish() {
    let control = Arc::new(Control::default());
    control.mode.store(HOLD, Ordering::SeqCst);
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let caller = Arc::new(Caller::new(
        &server.addr().to_string(),
        Policy {
            max_concurrency: 2,
            ..policy(3, LONG)
        },
    ));
    let held: Vec<_> = (0..2)
        .map(|_| {
            let caller = Arc::clone(&caller);
            tokio::spawn(async move { caller.call(LONG).await })
        })
        .collect();
    boutique_testkit::eventually("two calls are held", RECOVERY, || async {
        (control.seen.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;

    let status = caller.call(LONG).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("bulkhead full"), "{status:?}");
    assert_eq!(rejected_locally(&status), Some(Rejection::BulkheadFull));
    assert_eq!(control.seen.load(Ordering::SeqCst), 2);
    assert_eq!(caller.rejected(Rejection::BulkheadFull), 1.0);
    assert_eq!(
        caller.state(),
        BreakerState::Closed,
        "not the peer's failure"
    );

    control.release.add_permits(2);
    for call in held {
        call.await.unwrap().unwrap();
    }
    control.mode.store(OK, Ordering::SeqCst);
    caller.call(LONG).await.unwrap();
    assert_eq!(control.seen.load(Ordering::SeqCst), 3);
    server.stop().await;
}

#[tokio::test]
async fn an_idempotent_call_is_retried_and_another_is_not() {
    let control = Arc::new(Control::default());
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let caller = Caller::new(
        &server.addr().to_string(),
        Policy {
            retries: 2,
            retry_backoff: Duration::from_millis(1),
            ..Policy::default()
        },
    );

    control.fail_first.store(1, Ordering::SeqCst);
    caller.call_idempotent(PATIENCE).await.unwrap();
    assert_eq!(control.seen.load(Ordering::SeqCst), 2);
    assert_eq!(caller.retries("retried"), 1.0);

    control.fail_first.store(1, Ordering::SeqCst);
    let status = caller.call(PATIENCE).await.unwrap_err();
    assert_eq!(status.message(), "flaky");
    assert_eq!(control.seen.load(Ordering::SeqCst), 3, "not retried");
    assert_eq!(caller.retries("retried"), 1.0);
    server.stop().await;
}

#[tokio::test]
async fn retries_stop_when_the_budget_is_spent() {
    let control = Arc::new(Control::default());
    control.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let caller = Caller::new(
        &server.addr().to_string(),
        Policy {
            retries: 3,
            retry_backoff: Duration::from_millis(1),
            ..policy(0, LONG)
        },
    );
    // The budget holds ten a second for its ten-second window (100), plus a
    // fifth of the calls; three retries a call spend it within 60 calls.
    let mut calls = 0;
    while caller.retries("budget_exhausted") == 0.0 {
        calls += 1;
        assert!(calls <= 200, "the budget was never spent");
        caller.call_idempotent(PATIENCE).await.unwrap_err();
    }
    let retried = caller.retries("retried");
    assert!(
        retried <= 100.0 + 0.2 * f64::from(calls) + 1.0,
        "{retried} retries in {calls} calls"
    );
    assert_eq!(
        control.seen.load(Ordering::SeqCst) as f64,
        f64::from(calls) + retried
    );
    // Spent: the next call is sent once.
    let seen = control.seen.load(Ordering::SeqCst);
    caller.call_idempotent(PATIENCE).await.unwrap_err();
    assert_eq!(control.seen.load(Ordering::SeqCst), seen + 1);
    server.stop().await;
}

#[tokio::test]
async fn retries_never_pass_the_callers_deadline() {
    let control = Arc::new(Control::default());
    control.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let caller = Caller::new(
        &server.addr().to_string(),
        Policy {
            retries: 10,
            retry_backoff: Duration::from_secs(10),
            ..policy(0, LONG)
        },
    );
    // The first backoff (5 to 10 s) is longer than the whole deadline.
    let status = caller
        .call_idempotent(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(control.seen.load(Ordering::SeqCst), 1);
    assert_eq!(caller.retries("no_time_left"), 1.0);
    assert_eq!(caller.retries("retried"), 0.0);
    server.stop().await;
}

/// The fake behind a fault-injecting proxy, and a caller through the proxy
/// that has made one good call (so a connection is open when faults start).
async fn behind_a_proxy(policy: Policy) -> (TestServer, FaultProxy, Caller) {
    let control = Arc::new(Control::default());
    let server = serve("127.0.0.1:0".parse().unwrap(), &control).await;
    let proxy = FaultProxy::start(server.addr()).await.unwrap();
    let caller = Caller::new(&proxy.addr().to_string(), policy);
    caller.call(PATIENCE).await.unwrap();
    (server, proxy, caller)
}

#[tokio::test]
async fn a_peer_gone_silent_mid_connection_costs_deadlines_then_opens_the_breaker_and_heals() {
    let (server, proxy, caller) = behind_a_proxy(policy(3, OPEN_FOR)).await;
    proxy.set(Fault::BlackHole);
    for _ in 0..3 {
        let status = caller.call(Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    }
    assert_eq!(caller.state(), BreakerState::Open);

    // The network heals: a probe gets through and the breaker closes.
    proxy.set(Fault::None);
    boutique_testkit::eventually("calls served again", RECOVERY, || async {
        caller.call(Duration::from_millis(500)).await.ok()
    })
    .await;
    assert_eq!(caller.state(), BreakerState::Closed);
    server.stop().await;
}

#[tokio::test]
async fn latency_within_the_deadline_is_served_and_beyond_it_ends_the_call_at_its_deadline() {
    let (server, proxy, caller) = behind_a_proxy(policy(0, LONG)).await;
    proxy.set(Fault::Latency(Duration::from_millis(50)));
    caller.call(PATIENCE).await.unwrap();
    proxy.set(Fault::Latency(Duration::from_secs(30)));
    let status = caller.call(Duration::from_millis(200)).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_starved_link_ends_calls_at_their_deadline_and_a_wide_one_serves_them() {
    let (server, proxy, caller) = behind_a_proxy(policy(0, LONG)).await;
    // A few bytes a second: not even one request's frames arrive in time.
    proxy.set(Fault::Bandwidth(20));
    let status = caller.call(Duration::from_millis(300)).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    proxy.set(Fault::Bandwidth(10_000_000));
    boutique_testkit::eventually("calls served again", RECOVERY, || async {
        caller.call(Duration::from_millis(500)).await.ok()
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn resets_fail_calls_at_once_open_the_breaker_and_a_healed_link_closes_it() {
    let (server, proxy, caller) = behind_a_proxy(policy(2, OPEN_FOR)).await;
    proxy.set(Fault::Reset);
    // A deadline far away: the failures come from the resets, not from it.
    let mut failures = 0;
    while caller.state() != BreakerState::Open {
        let status = caller.call(LONG).await.unwrap_err();
        assert_ne!(status.code(), Code::DeadlineExceeded, "{status:?}");
        failures += 1;
        assert!(failures <= 4, "the breaker never opened: {status:?}");
    }
    assert_circuit_open(caller.call(LONG).await);
    proxy.set(Fault::None);
    boutique_testkit::eventually("calls served again", RECOVERY, || async {
        caller.call(PATIENCE).await.ok()
    })
    .await;
    assert_eq!(caller.state(), BreakerState::Closed);
    server.stop().await;
}
