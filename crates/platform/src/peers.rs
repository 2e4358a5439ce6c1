//! The services one service calls, as the directory lists them: each peer's
//! address is read once from its upstream variable (all of them required, as
//! upstream), checked, and turned into a lazily connecting, traced channel.
//!
//! Because the list comes from [`ServiceInfo::calls`], a service reads exactly
//! the variables of the peers the call graph gives it, and asking for a
//! channel to a service it does not call is a start-up error, not a silent
//! extra edge in the graph.

use std::{fmt, time::Duration};

use boutique_proto::directory::ServiceInfo;
use tonic::transport::Endpoint;

use crate::{
    app::ServerError,
    config::{ConfigError, Env, parse_service_addr},
    telemetry::{Telemetry, grpc::TracedChannel},
};

/// A peer's checked address: `host:port` and the endpoint made from it.
#[derive(Clone)]
pub struct PeerAddr {
    host_port: String,
    endpoint: Endpoint,
}

impl PeerAddr {
    /// Checks `value` (`host:port` or `http://host:port`) read from `var`.
    pub fn parse(var: &str, value: &str) -> Result<Self, ConfigError> {
        let host_port = parse_service_addr(value).map_err(|e| ConfigError::new(var, value, e))?;
        let endpoint = Endpoint::from_shared(format!("http://{host_port}"))
            .map_err(|e| ConfigError::new(var, value, e))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            // A ceiling for callers that set no deadline of their own.
            .timeout(Duration::from_secs(30));
        Ok(Self {
            host_port,
            endpoint,
        })
    }

    /// `host:port`.
    pub fn host_port(&self) -> &str {
        &self.host_port
    }

    /// A channel that connects on first use, so a service can start before its
    /// dependencies (as upstream's do) and reconnects after they restart; every
    /// call through it is traced and counted for `telemetry`'s service.
    pub fn lazy_channel(&self, telemetry: &Telemetry) -> TracedChannel {
        TracedChannel::new(self.endpoint.clone().connect_lazy(), telemetry.clone())
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
    /// Reads the address variable of every service `of` calls; the first one
    /// missing or malformed is named in the error.
    pub fn from_env(env: &Env, of: &'static ServiceInfo) -> Result<Self, ConfigError> {
        let addrs = of
            .calls
            .iter()
            .map(|peer| {
                let value = env
                    .get(peer.addr_var)
                    .ok_or_else(|| ConfigError::new(peer.addr_var, "", "is required"))?;
                Ok((*peer, PeerAddr::parse(peer.addr_var, value)?))
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

    /// A lazily connecting, traced channel to `peer`.
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
}
