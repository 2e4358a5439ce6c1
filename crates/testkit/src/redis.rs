//! A throwaway `redis-server` on loopback, owned by the test that starts it.
//!
//! The server runs as a child process (not daemonized), so it cannot outlive
//! the test: [`Drop`] kills and reaps it. Persistence is off and its working
//! directory is a temp dir, so nothing touches the machine's Redis. A test can
//! take the server down on purpose with [`RedisServer::stop`] to see how the
//! code under test behaves during an outage.

use std::{
    fs::File,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{find_program, free_port};

/// How long a fresh server may take to answer PING (it usually takes ~30 ms).
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Attempts with a new port, because another process may take the port
/// between [`free_port`] releasing it and Redis binding it.
const START_ATTEMPTS: usize = 3;

/// A `redis-server` child process listening on `127.0.0.1`.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    addr: SocketAddr,
    // Kept so the directory (Redis' `--dir` and its log) lives as long as the server.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers PING.
    ///
    /// Returns `None` (the caller skips its test) when `redis-server` is not
    /// installed outside CI; panics in CI, or when the server fails to start.
    /// `REDIS_SERVER_BIN` overrides the program path.
    pub fn start() -> Option<Self> {
        let program = find_program(
            "redis-server",
            "REDIS_SERVER_BIN",
            "apt-get install redis-server",
        )?;
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::tempdir().expect("create a temp dir for redis-server");
            let port = free_port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let log_path = dir.path().join("redis.log");
            let log = File::create(&log_path).expect("create the redis-server log file");
            let log_err = log.try_clone().expect("clone the log file handle");
            let child = Command::new(&program)
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
            let mut server = Self {
                child: Some(child),
                addr,
                dir,
            };
            match server.wait_ready() {
                Ok(()) => return Some(server),
                Err(reason) => {
                    server.stop();
                    failures.push(format!("{reason}; log:\n{}", read_log(&log_path)));
                }
            }
        }
        panic!("redis-server did not start: {}", failures.join("\n---\n"));
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// The server's working directory (also holds `redis.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (SIGKILL, as in a crash) and reaps it. Idempotent; the
    /// port stops accepting connections when this returns.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error here means it already exited, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Polls until PING is answered, failing early if the process exits
    /// (for instance because the port was taken meanwhile).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("redis-server exited early with {status}"));
            }
            match ping(self.addr) {
                Ok(()) => return Ok(()),
                Err(reason) if Instant::now() > deadline => {
                    return Err(format!(
                        "{} did not answer PING within {READY_TIMEOUT:?}: {reason}",
                        self.addr
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends one inline PING and expects `+PONG`. A server still loading its
/// dataset answers `-LOADING`, which counts as not ready.
fn ping(addr: SocketAddr) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    stream.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).map_err(|e| e.to_string())?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(format!(
            "unexpected reply {:?}",
            String::from_utf8_lossy(&reply)
        ))
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read the log: {e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        missing_redis_server,
        ignore = "needs redis-server (Debian redis-server)"
    )]
    fn starts_answers_and_stops() {
        let Some(mut server) = RedisServer::start() else {
            return;
        };
        assert!(server.url().starts_with("redis://127.0.0.1:"));
        ping(server.addr()).expect("a started server answers PING");
        server.stop();
        assert!(
            TcpStream::connect_timeout(&server.addr(), Duration::from_millis(200)).is_err(),
            "the port still accepts connections after stop"
        );
        // Stopping twice is harmless.
        server.stop();
    }
}
