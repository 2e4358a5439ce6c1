//! A throwaway PostgreSQL server on loopback, owned by the test that starts it.
//!
//! [`PostgresServer::start`] runs `initdb` into a temp dir and then `postgres`
//! itself as a child process (not `pg_ctl`, not daemonized), listening on a free
//! port of 127.0.0.1 with no Unix socket, trust authentication and fsync off (a
//! test server, not a durable one). [`Drop`] stops it by pid, so it cannot
//! outlive the test. Each test takes its own database from
//! [`PostgresServer::create_database`], so tests sharing a server stay apart.
//!
//! `initdb` refuses to run as root. As root, both programs run as the
//! `postgres` system user (what `runuser -u postgres --` does), with the temp
//! dir handed to that user; the switch is made in the child itself (std's
//! `Command::uid`/`gid`), so the pid we hold is the server's and not that of a
//! `runuser` wrapper that could die and leave the server behind.
//!
//! The programs are found in `POSTGRES_BIN_DIR`, else the newest
//! `/usr/lib/postgresql/*/bin` (Debian), else `PATH`. Missing, the test is
//! skipped with a message on stderr; with `CI=true` it fails instead.

use std::{
    fs::File,
    io::Write,
    os::unix::{fs::MetadataExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::{free_port, in_ci};

/// How long a fresh server may take to accept connections (it usually takes ~0.2 s).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopped server may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts with a new port, because another process may take the port
/// between [`free_port`] releasing it and PostgreSQL binding it.
const START_ATTEMPTS: usize = 3;

/// The superuser `initdb` creates; trust authentication, so no password.
pub const SUPERUSER: &str = "postgres";

/// Names databases apart within one test process.
static DATABASES: AtomicU64 = AtomicU64::new(0);

/// A `postgres` child process listening on `127.0.0.1`.
#[derive(Debug)]
pub struct PostgresServer {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
    // Kept so the cluster (and its log) lives as long as the server.
    dir: tempfile::TempDir,
}

/// The user to run the server as when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl PostgresServer {
    /// Creates a cluster, starts the server on a free loopback port, and waits
    /// until it accepts connections.
    ///
    /// Returns `None` (the caller skips its test) when PostgreSQL is not
    /// installed outside CI; panics in CI, or when the server fails to start.
    pub fn start() -> Option<Self> {
        let bin = find_bin_dir()?;
        let run_as = run_as();
        let dir = tempfile::tempdir().expect("create a temp dir for postgres");
        if let Some(user) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(user.uid), Some(user.gid))
                .expect("hand the temp dir to the postgres user");
        }
        let data = dir.path().join("data");
        let initdb_log = dir.path().join("initdb.log");
        let status = command(&bin.join("initdb"), run_as)
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync"])
            .arg("--locale=C")
            .stdin(Stdio::null())
            .stdout(log_file(&initdb_log))
            .stderr(log_file(&initdb_log))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}/initdb: {e}", bin.display()));
        assert!(
            status.success(),
            "initdb failed ({status}):\n{}",
            read_log(&initdb_log)
        );

        let log_path = dir.path().join("postgres.log");
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut child = command(&bin.join("postgres"), run_as)
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "unix_socket_directories="])
                .args(["-c", "fsync=off"])
                .args(["-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"])
                // Several test servers may run at once; keep each one small.
                .args(["-c", "shared_buffers=16MB"])
                .stdin(Stdio::null())
                .stdout(log_file(&log_path))
                .stderr(log_file(&log_path))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}/postgres: {e}", bin.display()));
            match wait_ready(&mut child, &bin, port) {
                Ok(()) => {
                    return Some(Self {
                        child: Some(child),
                        port,
                        bin,
                        dir,
                    });
                }
                Err(reason) => {
                    stop(child);
                    failures.push(format!("{reason}; log:\n{}", read_log(&log_path)));
                }
            }
        }
        panic!("postgres did not start: {}", failures.join("\n---\n"));
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database with a name unique to this process and
    /// returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        self.psql(&format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs one SQL command as the superuser in the `postgres` database.
    /// Panics with psql's output if it fails.
    pub fn psql(&self, sql: &str) {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", "postgres", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}/psql: {e}", self.bin.display()));
        assert!(
            output.status.success(),
            "psql -c {sql:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The cluster's directory (also holds `postgres.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server and waits for it to exit: an immediate shutdown
    /// (SIGQUIT: clients are cut off, nothing is flushed), then SIGKILL if it
    /// lingers. Idempotent; the port refuses connections when this returns.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops `child` (see [`PostgresServer::stop`]) and reaps it.
fn stop(mut child: Child) {
    let quit = Command::new("kill")
        .args(["-QUIT", &child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if quit.is_ok_and(|s| s.success()) {
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // An error here means it already exited, which is what we want.
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls `pg_isready` until the server accepts connections, failing early if
/// the process exits (for instance because the port was taken).
fn wait_ready(child: &mut Child, bin: &Path, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("postgres exited early with {status}"));
        }
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-U", SUPERUSER, "-d", "postgres"])
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run pg_isready: {e}"))?;
        if ready.success() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "127.0.0.1:{port} did not accept connections within {READY_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A command for `program`, run as `run_as` when given.
fn command(program: &Path, run_as: Option<RunAs>) -> Command {
    let mut command = Command::new(program);
    if let Some(user) = run_as {
        command.uid(user.uid).gid(user.gid);
    }
    command
}

/// The `postgres` system user when we are root (initdb refuses root), else
/// `None` (run as ourselves).
fn run_as() -> Option<RunAs> {
    // The owner of /proc/self is our effective uid; no libc call needed.
    let euid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok()?;
    if euid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let user = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 || fields[0] != SUPERUSER {
            return None;
        }
        Some(RunAs {
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
        })
    });
    assert!(
        user.is_some(),
        "running as root, PostgreSQL must run as the `postgres` user, which does not exist \
         (the Debian package creates it: apt-get install postgresql)"
    );
    user
}

/// The directory holding `initdb`, `postgres`, `pg_isready` and `psql`.
fn find_bin_dir() -> Option<PathBuf> {
    const PROGRAMS: [&str; 4] = ["initdb", "postgres", "pg_isready", "psql"];
    let complete = |dir: &Path| PROGRAMS.iter().all(|p| dir.join(p).is_file());
    if let Some(dir) = std::env::var_os("POSTGRES_BIN_DIR").map(PathBuf::from) {
        assert!(
            complete(&dir),
            "POSTGRES_BIN_DIR={} lacks one of {PROGRAMS:?}",
            dir.display()
        );
        return Some(dir);
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| complete(bin))
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| complete(dir));
    if on_path.is_none() {
        let hint = "apt-get install postgresql, or set POSTGRES_BIN_DIR";
        if in_ci() {
            panic!("PostgreSQL (initdb, postgres, pg_isready, psql) is required in CI ({hint})");
        }
        // Straight to the stderr handle: `eprintln!` is captured by the test
        // harness and never shown for a passing test, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: PostgreSQL not found in /usr/lib/postgresql/*/bin or on PATH ({hint}); \
             set CI=true to make this a failure"
        );
    }
    on_path
}

fn log_file(path: &Path) -> File {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .expect("open a postgres log file")
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read the log: {e})"))
}

#[cfg(test)]
mod tests {
    use std::net::{SocketAddr, TcpStream};

    use super::*;

    #[test]
    #[cfg_attr(missing_postgres, ignore = "needs PostgreSQL (Debian postgresql)")]
    fn starts_creates_databases_and_stops() {
        let Some(mut server) = PostgresServer::start() else {
            return;
        };
        let first = server.create_database();
        let second = server.create_database();
        assert_ne!(first, second);
        assert!(
            first.starts_with("postgres://postgres@127.0.0.1:"),
            "{first}"
        );
        server.psql("SELECT 1");
        let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
        server.stop();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
            "the port still accepts connections after stop"
        );
        // Stopping twice is harmless.
        server.stop();
    }
}
