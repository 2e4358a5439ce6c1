//! The services one service calls, as the directory lists them: each peer's
//! address is read once from its upstream variable (all of them required, as
//! upstream), checked, and turned into a lazily connecting, traced channel.
//!
//! Because the list comes from [`ServiceInfo::calls`], a service reads exactly
//! the variables of the peers the call graph gives it, and asking for a
//! channel to a service it does not call is a start-up error, not a silent
//! extra edge in the graph.

use std::{fmt, sync::Arc, time::Duration};

use boutique_proto::directory::{self, ServiceInfo};
use tonic::transport::Endpoint;

use crate::{
    app::ServerError,
    config::{ConfigError, Env, parse_service_addr},
    resilience::{PeerGuards, Policy},
    telemetry::{Telemetry, grpc::TracedChannel},
};

/// A peer's checked address: `host:port` and the endpoint made from it, and
/// the guards (bulkhead, breaker, retry budget) every channel made from it
/// shares.
#[derive(Clone)]
pub struct PeerAddr {
    host_port: String,
    endpoint: Endpoint,
    guards: Arc<PeerGuards>,
}

impl PeerAddr {
    /// Checks `value` (`host:port` or `http://host:port`) read from `var`;
    /// the peer gets the default [`Policy`] (see [`PeerAddr::with_policy`]).
    pub fn parse(var: &str, value: &str) -> Result<Self, ConfigError> {
        let host_port = parse_service_addr(value).map_err(|e| ConfigError::new(var, value, e))?;
        let endpoint = Endpoint::from_shared(format!("http://{host_port}"))
            .map_err(|e| ConfigError::new(var, value, e))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            // A ceiling for callers that set no deadline of their own.
            .timeout(Duration::from_secs(30));
        // The peer's name labels its metrics and names it in refusals.
        let peer = directory::ALL
            .iter()
            .find(|service| service.addr_var == var)
            .map_or("unknown", |service| service.name);
        Ok(Self {
            host_port,
            endpoint,
            guards: PeerGuards::new(peer, Policy::default()),
        })
    }

    /// The same address with its calls guarded by `policy` (fresh guards).
    #[must_use]
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.guards = PeerGuards::new(self.guards.peer, policy);
        self
    }

    /// The guards of calls to this peer (their breaker's state, say).
    pub fn guards(&self) -> &Arc<PeerGuards> {
        &self.guards
    }

    /// `host:port`.
    pub fn host_port(&self) -> &str {
        &self.host_port
    }

    /// A channel that connects on first use, so a service can start before its
    /// dependencies (as upstream's do) and reconnects after they restart; every
    /// call through it is guarded by the peer's policy, and traced and counted
    /// for `telemetry`'s service.
    pub fn lazy_channel(&self, telemetry: &Telemetry) -> TracedChannel {
        TracedChannel::guarded(
            self.endpoint.clone().connect_lazy(),
            telemetry.clone(),
            Arc::clone(&self.guards),
        )
    }

    /// A channel to this peer that never connects: every connection attempt
    /// is refused at once, so a call fails `UNAVAILABLE` exactly as when the
    /// peer cannot be reached, with nothing sent. Its calls are guarded,
    /// traced and counted as [`PeerAddr::lazy_channel`]'s, with the same
    /// guards (a breaker opened through it is the peer's breaker). For fault
    /// injection (the `paymentUnreachable` flag).
    pub fn unreachable_channel(&self, telemetry: &Telemetry) -> TracedChannel {
        let peer = self.guards.peer;
        let refuse = tower::service_fn(move |_: tonic::transport::Uri| async move {
            Err::<hyper_util::rt::TokioIo<tokio::net::TcpStream>, _>(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                format!("{peer} is unreachable (injected fault)"),
            ))
        });
        TracedChannel::guarded(
            self.endpoint.clone().connect_with_connector_lazy(refuse),
            telemetry.clone(),
            Arc::clone(&self.guards),
        )
    }
}

impl fmt::Debug for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host_port)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host_port)
    }
}

/// The checked addresses of every service that one service calls.
#[derive(Debug, Clone)]
pub struct Peers {
    of: &'static ServiceInfo,
    addrs: Vec<(&'static ServiceInfo, PeerAddr)>,
}

impl Peers {
    /// Reads the address variable and the resilience policy
    /// (`RESILIENCE_[<PEER>_]*`, see [`Policy::from_env`]) of every service
    /// `of` calls; the first one missing or malformed is named in the error.
    pub fn from_env(env: &Env, of: &'static ServiceInfo) -> Result<Self, ConfigError> {
        let addrs = of
            .calls
            .iter()
            .map(|peer| {
                let value = env
                    .get(peer.addr_var)
                    .ok_or_else(|| ConfigError::new(peer.addr_var, "", "is required"))?;
                let policy = Policy::from_env(env, peer.name)?;
                Ok((
                    *peer,
                    PeerAddr::parse(peer.addr_var, value)?.with_policy(policy),
                ))
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self { of, addrs })
    }

    /// The address of `peer`, if this service calls it.
    pub fn addr(&self, peer: &ServiceInfo) -> Option<&PeerAddr> {
        self.addrs
            .iter()
            .find(|(known, _)| *known == peer)
            .map(|(_, addr)| addr)
    }

    /// A lazily connecting, traced channel to `peer`, guarded by its policy
    /// (channels to one peer share its breaker, bulkhead and budget).
    pub fn channel(
        &self,
        peer: &'static ServiceInfo,
        telemetry: &Telemetry,
    ) -> Result<TracedChannel, ServerError> {
        let addr = self.addr(peer).ok_or(ServerError::UndeclaredPeer {
            service: self.of.name,
            peer: peer.name,
        })?;
        Ok(addr.lazy_channel(telemetry))
    }
}

#[cfg(test)]
mod tests {
    use boutique_proto::directory::{AD, CATALOG, CHECKOUT, RECOMMENDATION};

    use super::*;

    fn env_for(service: &ServiceInfo) -> Env {
        Env::from_pairs(service.calls.iter().map(|p| (p.addr_var, "localhost:1")))
    }

    #[test]
    fn every_peer_the_directory_lists_is_required() {
        let peers = Peers::from_env(&env_for(&CHECKOUT), &CHECKOUT).unwrap();
        for peer in CHECKOUT.calls {
            assert_eq!(peers.addr(peer).unwrap().host_port(), "localhost:1");
        }
        for missing in CHECKOUT.calls {
            let env = Env::from_pairs(
                CHECKOUT
                    .calls
                    .iter()
                    .filter(|p| p != &missing)
                    .map(|p| (p.addr_var, "localhost:1")),
            );
            let error = Peers::from_env(&env, &CHECKOUT).unwrap_err();
            assert_eq!(error.var, missing.addr_var);
        }
        let bad = env_for(&RECOMMENDATION).with(CATALOG.addr_var, "catalog");
        let error = Peers::from_env(&bad, &RECOMMENDATION).unwrap_err();
        assert_eq!(error.var, CATALOG.addr_var);
        // A service that calls nobody needs nothing.
        assert!(Peers::from_env(&Env::default(), &AD).is_ok());
    }

    #[tokio::test]
    async fn a_channel_only_to_a_listed_peer() {
        let telemetry = Telemetry::detached("recommendation");
        let peers = Peers::from_env(&env_for(&RECOMMENDATION), &RECOMMENDATION).unwrap();
        assert!(peers.channel(&CATALOG, &telemetry).is_ok());
        let error = peers.channel(&AD, &telemetry).unwrap_err();
        assert!(error.to_string().contains("ad"), "{error}");
    }

    #[tokio::test]
    async fn an_unreachable_channel_fails_unavailable_and_sends_nothing() {
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let telemetry = Telemetry::detached("checkout");
        // A live address: the channel must refuse without dialling it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = PeerAddr::parse(
            "PAYMENT_SERVICE_ADDR",
            &listener.local_addr().unwrap().to_string(),
        )
        .unwrap();
        let mut client = HealthClient::new(addr.unreachable_channel(&telemetry));
        let status = client
            .check(HealthCheckRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "nothing dialled the peer");
    }
}
