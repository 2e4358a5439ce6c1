//! Real servers for tests, started on loopback by the test itself.
//!
//! Where users run Redis, PostgreSQL, RabbitMQ, an SMTP relay or Prometheus, our tests use the real
//! thing. When the program is not installed on a developer machine, the test
//! is reported as `ignored` with the reason: the build script of its package
//! (the rule is in this crate's `build.rs`) sets a `missing_<program>` cfg
//! that the test's `#[cfg_attr(.., ignore = "..")]` reads. With `CI=true` no
//! test is ignored and a missing program fails the run, so CI can never pass
//! by skipping. [`find_program`] is the second line of defence, for a program
//! that is gone at run time though it was there at build time: it skips the
//! test and says so on stderr (failing in CI). [`flags`] writes flag files for
//! the failure flags' tests.

pub mod flags;
pub mod logs;
pub mod postgres;
pub mod prometheus;
pub mod proxy;
pub mod rabbitmq;
pub mod redis;
pub mod smtp;

use std::{
    io::Write,
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    time::{Duration, Instant},
};

/// Finds `program` on `PATH` (or at the path in the environment variable
/// `override_var`). Returns `None` to skip the calling test when it is missing
/// outside CI; panics when it is missing in CI.
pub fn find_program(program: &str, override_var: &str, install_hint: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(override_var).map(PathBuf::from) {
        return Some(path);
    }
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        if in_ci() {
            panic!("{program} is required in CI but was not found on PATH ({install_hint})");
        }
        // Straight to the stderr handle: `eprintln!` is captured by the test
        // harness and never shown for a passing test, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {program} not found on PATH ({install_hint}); set CI=true to make this a failure"
        );
    }
    found
}

/// True when running under CI (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A free TCP port on 127.0.0.1. The port is released before returning, so a
/// server started right after can bind it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Waits until `addr` accepts TCP connections, polling up to `timeout`.
/// Readiness by observation, not by sleeping a fixed time.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{addr} did not accept connections within {timeout:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` until it gives `Some` (what the test waits for: a state of
/// the system, not a length of time), and fails the test with `what` after
/// `patience`. Every poll is a real query, so the test fails only when the
/// system never gets there.
pub async fn eventually<T, Fut>(what: &str, patience: Duration, mut check: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "never {what} within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
