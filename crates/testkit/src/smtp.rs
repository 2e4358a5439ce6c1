//! A throwaway SMTP server on loopback: Python's `aiosmtpd` writing every
//! message it accepts into a maildir, which the test then reads.
//!
//! A real server (rather than a fake in Rust) checks what users' relays check:
//! the SMTP dialogue, the envelope and the message format. `aiosmtpd` stores
//! each message before it answers `250 OK`, so once the client's send returns,
//! the message is on disk. It also records the envelope in `X-MailFrom` and
//! `X-RcptTo` headers, which lets tests check who the message really went to.
//!
//! Install: `pip install aiosmtpd` (or point `AIOSMTPD_BIN` at the script).

use std::{
    fs,
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime},
};

use crate::{find_program, free_port};

/// How long `aiosmtpd` may take to start (a cold Python start on a busy CI
/// machine can take seconds).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between readiness or mailbox checks.
const POLL: Duration = Duration::from_millis(20);
/// Attempts with a fresh port, in case another process takes the port between
/// [`free_port`] and the server binding it.
const START_ATTEMPTS: usize = 3;

/// A running `aiosmtpd`, killed when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    child: Option<Child>,
    addr: SocketAddr,
    maildir: PathBuf,
    log: PathBuf,
    // Holds the maildir and the log; removed on drop, after the process is gone.
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts a server on `127.0.0.1` and waits until it greets. Returns `None`
    /// to skip the test when `aiosmtpd` is not installed (outside CI).
    pub fn start() -> Option<Self> {
        let program = find_program("aiosmtpd", "AIOSMTPD_BIN", "pip install aiosmtpd")?;
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&program) {
                Ok(server) => return Some(server),
                Err(error) => failures.push(error),
            }
        }
        panic!("aiosmtpd did not start:\n{}", failures.join("\n---\n"));
    }

    fn start_once(program: &Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let maildir = dir.path().join("maildir");
        let log = dir.path().join("aiosmtpd.log");
        let log_file = fs::File::create(&log).map_err(|e| format!("cannot create the log: {e}"))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot share the log: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new(program)
            // -n: never try to drop privileges to `nobody` (fails, or loses
            // access to the maildir, when the tests run as root).
            .arg("-n")
            .args(["-l", &addr.to_string()])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        let mut server = Self {
            child: Some(child),
            addr,
            maildir,
            log,
            _dir: dir,
        };
        // On failure `server` is dropped here, which kills and reaps the child.
        server.wait_until_ready()?;
        Ok(server)
    }

    /// Polls until the server answers with an SMTP greeting, failing early if
    /// the process exits (e.g. the port was taken).
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "aiosmtpd exited with {status}; its output:\n{}",
                    self.log_text()
                ));
            }
            if greets(self.addr) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "aiosmtpd did not greet on {} within {START_TIMEOUT:?}; its output:\n{}",
                    self.addr,
                    self.log_text()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server as an `SMTP_URL` (plain SMTP, no TLS, no authentication).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far, as raw RFC 5322 text (with `\n` line
    /// endings, as the maildir stores them), oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<(SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .filter_map(|sub| fs::read_dir(self.maildir.join(sub)).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let modified = entry.metadata().ok()?.modified().ok()?;
                Some((modified, entry.path()))
            })
            .collect();
        // Maildir names start with the delivery time, so the name breaks ties
        // between messages stored within the same clock tick.
        files.sort();
        files
            .iter()
            .filter_map(|(_, path)| fs::read(path).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect()
    }

    /// Waits (polling, up to `timeout`) until at least `count` messages have
    /// arrived and returns them all; panics with what did arrive otherwise.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if Instant::now() > deadline {
                panic!(
                    "expected {count} message(s) within {timeout:?}, got {}:\n{}\naiosmtpd output:\n{}",
                    messages.len(),
                    messages.join("\n---\n"),
                    self.log_text()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Stops the server (the port then refuses connections). Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine; either way, reap it so no zombie remains.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True if `addr` accepts a connection and sends a `220` greeting. A bare TCP
/// accept is not enough: the greeting shows the SMTP handler is running.
fn greets(addr: SocketAddr) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .is_err()
    {
        return false;
    }
    let mut reader = BufReader::new(stream);
    let mut greeting = String::new();
    if reader.read_line(&mut greeting).is_err() || !greeting.starts_with("220") {
        return false;
    }
    // Leave politely so the server does not log an aborted session.
    let _ = reader.get_mut().write_all(b"QUIT\r\n");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Talks SMTP by hand, so the server is checked independently of lettre.
    #[test]
    #[cfg_attr(missing_aiosmtpd, ignore = "needs aiosmtpd (PyPI aiosmtpd)")]
    fn receives_and_stores_a_message() {
        let Some(mut server) = SmtpServer::start() else {
            return;
        };
        assert!(server.messages().is_empty());
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut expect = |code: &str| {
            // Multi-line replies use "250-"; the last line uses "250 ".
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                assert!(line.starts_with(code), "expected {code}, got {line:?}");
                if line.as_bytes().get(3) == Some(&b' ') {
                    break;
                }
            }
        };
        expect("220");
        for (command, code) in [
            ("EHLO test.invalid", "250"),
            ("MAIL FROM:<a@example.com>", "250"),
            ("RCPT TO:<b@example.org>", "250"),
            ("DATA", "354"),
            (
                "Subject: hello\r\nFrom: a@example.com\r\nTo: b@example.org\r\n\r\nbody line\r\n.",
                "250",
            ),
            ("QUIT", "221"),
        ] {
            write!(writer, "{command}\r\n").unwrap();
            expect(code);
        }
        let messages = server.wait_for_messages(1, Duration::from_secs(5));
        assert_eq!(messages.len(), 1);
        assert!(messages[0].contains("Subject: hello"), "{}", messages[0]);
        assert!(
            messages[0].contains("X-RcptTo: b@example.org"),
            "{}",
            messages[0]
        );
        assert!(messages[0].contains("body line"), "{}", messages[0]);

        let addr = server.addr();
        server.stop();
        assert!(
            TcpStream::connect(addr).is_err(),
            "still listening after stop"
        );
    }
}
