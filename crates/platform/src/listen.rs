//! Where a server listens, and whether it shares its port with another process.
//!
//! `LISTEN_ADDR` and `PORT` name the address ([`crate::Env::listen`]).
//! `REUSE_PORT=true` ([`REUSE_PORT_VAR`]) sets `SO_REUSEPORT` on the listener, so
//! a second process of the same service can bind the port while the first one
//! still serves, and the kernel spreads new connections over both. That is what
//! a rolling restart on one host needs: start the new process, wait until it is
//! ready, then SIGTERM the old one, which closes its listener before it drains
//! (so new connections reach the new process only) and lets its calls finish.
//!
//! It is opt-in because the sharing is silent: without it a second copy of a
//! service started by mistake fails with "address in use"; with it, the two
//! would split the traffic. Kubernetes never needs it (each pod has an address
//! of its own), and a port the kernel picks (`PORT=0`) cannot be shared, so
//! that combination is a configuration error.

use std::{fmt, net::SocketAddr};

use tokio::net::{TcpListener, TcpSocket};

use crate::{ConfigError, ServerError};

/// The variable that lets a server share its port (`SO_REUSEPORT`).
pub const REUSE_PORT_VAR: &str = "REUSE_PORT";

/// The listen queue of a bound socket, as `TcpListener::bind` makes it.
const BACKLOG: u32 = 1024;

/// An address to listen on, and whether the port may be shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    /// The address (`LISTEN_ADDR`, `PORT`); port 0 asks the kernel for one.
    pub addr: SocketAddr,
    /// Whether another process may bind the same port (`REUSE_PORT`).
    pub reuse_port: bool,
}

impl Listen {
    /// `addr`, not shared.
    pub const fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            reuse_port: false,
        }
    }

    /// The port asked for.
    pub const fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Checks that the port can be shared when sharing is asked for.
    pub(crate) fn validate(self, reuse_port_text: &str) -> Result<Self, ConfigError> {
        if !self.reuse_port {
            return Ok(self);
        }
        if !cfg!(unix) {
            return Err(ConfigError::new(
                REUSE_PORT_VAR,
                reuse_port_text,
                "sharing a port (SO_REUSEPORT) needs a Unix system",
            ));
        }
        if self.addr.port() == 0 {
            return Err(ConfigError::new(
                REUSE_PORT_VAR,
                reuse_port_text,
                "a port the kernel picks (PORT=0) cannot be shared: set PORT",
            ));
        }
        Ok(self)
    }

    /// Binds the listener.
    pub(crate) async fn bind(self) -> Result<TcpListener, ServerError> {
        let error = |source| ServerError::Bind {
            addr: self.addr,
            source,
        };
        if !self.reuse_port {
            return TcpListener::bind(self.addr).await.map_err(error);
        }
        let socket = if self.addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(error)?;
        // As `TcpListener::bind` does, so a restart is not refused while the
        // old process's connections linger in TIME_WAIT.
        socket.set_reuseaddr(true).map_err(error)?;
        share_port(&socket).map_err(error)?;
        socket.bind(self.addr).map_err(error)?;
        socket.listen(BACKLOG).map_err(error)
    }
}

#[cfg(unix)]
fn share_port(socket: &TcpSocket) -> std::io::Result<()> {
    socket.set_reuseport(true)
}

#[cfg(not(unix))]
fn share_port(_socket: &TcpSocket) -> std::io::Result<()> {
    // `validate` refuses REUSE_PORT here, so this is only reached by a
    // `Listen` built by hand.
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "SO_REUSEPORT needs a Unix system",
    ))
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Self {
        Self::new(addr)
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)?;
        if self.reuse_port {
            f.write_str(" (port shared)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;

    #[tokio::test]
    async fn a_shared_port_takes_a_second_listener_and_a_private_one_does_not() {
        let first = Listen {
            addr: "127.0.0.1:0".parse().unwrap(),
            reuse_port: true,
        };
        // Port 0 cannot be validated as shared, but it can be bound: take a
        // free port that way, then share it.
        let bound = first.bind().await.unwrap();
        let shared = Listen {
            addr: bound.local_addr().unwrap(),
            reuse_port: true,
        };
        let second = shared.bind().await.unwrap();
        assert_eq!(second.local_addr().unwrap(), shared.addr);

        let private = Listen::new(shared.addr);
        let refused = private.bind().await.unwrap_err();
        assert!(
            matches!(&refused, ServerError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_private_port_refuses_a_sharing_listener() {
        let private = Listen::new("127.0.0.1:0".parse().unwrap())
            .bind()
            .await
            .unwrap();
        let shared = Listen {
            addr: private.local_addr().unwrap(),
            reuse_port: true,
        };
        // Both sockets must ask for sharing; the first did not.
        assert!(shared.bind().await.is_err());
    }

    #[test]
    fn reads_reuse_port_off_by_default_and_refuses_it_without_a_fixed_port() {
        let listen = Env::from_pairs([("PORT", "7070")]).listen(1).unwrap();
        assert!(!listen.reuse_port);
        assert_eq!(listen.port(), 7070);

        let shared = Env::from_pairs([("PORT", "7070"), ("REUSE_PORT", "true")])
            .listen(1)
            .unwrap();
        assert!(shared.reuse_port);
        assert_eq!(shared.to_string(), "0.0.0.0:7070 (port shared)");

        let off = Env::from_pairs([("PORT", "0"), ("REUSE_PORT", "false")])
            .listen(1)
            .unwrap();
        assert!(!off.reuse_port);

        let error = Env::from_pairs([("PORT", "0"), ("REUSE_PORT", "1")])
            .listen(1)
            .unwrap_err();
        assert_eq!(error.var, REUSE_PORT_VAR);
        assert!(error.reason.contains("PORT=0"), "{error}");

        let error = Env::from_pairs([("REUSE_PORT", "sometimes")])
            .listen(1)
            .unwrap_err();
        assert_eq!(error.var, REUSE_PORT_VAR);
    }
}
