//! A throwaway Prometheus server on loopback that scrapes what the test names.
//!
//! The server runs as a child process with a generated configuration (one
//! scrape job, `scrape_interval: 1s`) and its TSDB in a temp dir, so nothing
//! touches the machine's Prometheus. [`PrometheusServer::start`] returns once
//! `/-/ready` answers 200; [`PrometheusServer::query`] runs an instant query
//! through the HTTP API and [`PrometheusServer::wait_for`] polls one until
//! its result satisfies a predicate, so a test observes what Prometheus
//! actually scraped rather than sleeping for a scrape. [`Drop`] kills and
//! reaps the server.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs::File,
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{find_program, free_port};

/// How long a fresh server may take to report ready (it usually takes ~0.3 s).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts with a new port, because another process may take the port
/// between [`free_port`] releasing it and Prometheus binding it.
const START_ATTEMPTS: usize = 3;

/// How often [`PrometheusServer::wait_for`] and readiness polls ask again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The labels of one series, `__name__` included when the result has one.
pub type Labels = BTreeMap<String, String>;

/// One element of an instant query's result: its labels and its value.
pub type Sample = (Labels, f64);

/// A `prometheus` child process listening on `127.0.0.1`.
#[derive(Debug)]
pub struct PrometheusServer {
    child: Option<Child>,
    addr: SocketAddr,
    http: reqwest::Client,
    // Kept so the directory (config, TSDB and log) lives as long as the server.
    dir: tempfile::TempDir,
}

impl PrometheusServer {
    /// Starts a server whose job `job` scrapes `/metrics` of every `targets`
    /// entry (`host:port`) every second, and waits until `/-/ready` answers.
    ///
    /// Returns `None` (the caller skips its test) when `prometheus` is not
    /// installed outside CI; panics in CI, or when the server fails to start.
    /// `PROMETHEUS_BIN` overrides the program path.
    pub async fn start(job: &str, targets: &[&str]) -> Option<Self> {
        let program = find_program(
            "prometheus",
            "PROMETHEUS_BIN",
            "apt-get install --no-install-recommends prometheus",
        )?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("build an HTTP client");
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::tempdir().expect("create a temp dir for prometheus");
            let config_path = dir.path().join("prometheus.yml");
            std::fs::write(&config_path, config(job, targets))
                .expect("write the prometheus configuration");
            let data = dir.path().join("data");
            let port = free_port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let log_path = dir.path().join("prometheus.log");
            let log = File::create(&log_path).expect("create the prometheus log file");
            let log_err = log.try_clone().expect("clone the log file handle");
            let child = Command::new(&program)
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address={addr}"))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
            let mut server = Self {
                child: Some(child),
                addr,
                http: http.clone(),
                dir,
            };
            match server.wait_ready().await {
                Ok(()) => return Some(server),
                Err(reason) => {
                    server.stop();
                    failures.push(format!("{reason}; log:\n{}", read_log(&log_path)));
                }
            }
        }
        panic!("prometheus did not start: {}", failures.join("\n---\n"));
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the web UI and API.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's directory: `prometheus.yml`, `prometheus.log`, `data/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the instant query `expr` now (`/api/v1/query`). A vector result
    /// gives one sample per series; a scalar gives one sample without labels.
    /// Errors carry Prometheus' own message (a bad expression, for instance).
    pub async fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let response = self
            .http
            .post(format!("{}/api/v1/query", self.url()))
            .form(&[("query", expr)])
            .send()
            .await
            .map_err(|e| format!("query {expr:?}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("query {expr:?}: reading the answer: {e}"))?;
        let answer: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| format!("query {expr:?}: {status}, not JSON ({e}): {body}"))?;
        if answer["status"] != "success" {
            return Err(format!("query {expr:?}: {status}: {body}"));
        }
        parse_result(&answer["data"]).map_err(|e| format!("query {expr:?}: {e}: {body}"))
    }

    /// Polls `expr` until `accept` holds for its result, and returns that
    /// result. Panics after `timeout` with the last result (or query error),
    /// so a failing test shows what Prometheus had.
    pub async fn wait_for(
        &self,
        expr: &str,
        accept: impl Fn(&[Sample]) -> bool,
        timeout: Duration,
    ) -> Vec<Sample> {
        self.try_wait_for(expr, accept, timeout)
            .await
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// [`wait_for`](Self::wait_for), returning the failure instead of
    /// panicking: the expression and the last result (or query error).
    pub async fn try_wait_for(
        &self,
        expr: &str,
        accept: impl Fn(&[Sample]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<Sample>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.query(expr).await;
            if let Ok(samples) = &last
                && accept(samples)
            {
                return last;
            }
            if Instant::now() > deadline {
                let last = match last {
                    Ok(samples) => format_samples(&samples),
                    Err(error) => format!("error: {error}"),
                };
                return Err(format!(
                    "{expr} did not reach the expected result within {timeout:?}; last result: {last}"
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Kills the server and reaps it. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error here means it already exited, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Polls `/-/ready` until it answers 200, failing early if the process
    /// exits (for instance because the port was taken meanwhile).
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/-/ready", self.url());
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("prometheus exited early with {status}"));
            }
            let last = match self.http.get(&url).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => format!("answered {}", response.status()),
                Err(error) => error.to_string(),
            };
            if Instant::now() > deadline {
                return Err(format!(
                    "{url} was not ready within {READY_TIMEOUT:?}: {last}"
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The configuration: one job scraping `targets` every second.
fn config(job: &str, targets: &[&str]) -> String {
    // JSON strings are valid YAML scalars, so quoting through serde_json
    // keeps any job name or target intact.
    let quote = |text: &str| serde_json::Value::from(text).to_string();
    let targets: Vec<String> = targets.iter().map(|target| quote(target)).collect();
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: {job}\n    metrics_path: /metrics\n    static_configs:\n      - targets: [{targets}]\n",
        job = quote(job),
        targets = targets.join(", "),
    )
}

/// The samples of an instant query's `data`.
fn parse_result(data: &serde_json::Value) -> Result<Vec<Sample>, String> {
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .ok_or("a vector result without a result array")?
            .iter()
            .map(|element| {
                let labels = element["metric"]
                    .as_object()
                    .ok_or("a sample without labels")?
                    .iter()
                    .map(|(name, value)| {
                        value
                            .as_str()
                            .map(|value| (name.clone(), value.to_owned()))
                            .ok_or("a label value that is not a string")
                    })
                    .collect::<Result<Labels, _>>()?;
                Ok((labels, parse_value(&element["value"])?))
            })
            .collect(),
        Some("scalar") => Ok(vec![(Labels::new(), parse_value(&data["result"])?)]),
        other => Err(format!("unsupported result type {other:?}")),
    }
}

/// `[timestamp, "value"]` to the value; Prometheus writes `NaN`, `+Inf` and
/// `-Inf` as such, which Rust parses too.
fn parse_value(pair: &serde_json::Value) -> Result<f64, String> {
    let text = pair[1]
        .as_str()
        .ok_or_else(|| format!("a value that is not [time, \"number\"]: {pair}"))?;
    text.parse()
        .map_err(|e| format!("value {text:?} is not a number: {e}"))
}

/// Samples one per line, `{labels} value`, for failure messages.
pub fn format_samples(samples: &[Sample]) -> String {
    if samples.is_empty() {
        return "(no series)".to_owned();
    }
    let mut text = String::new();
    for (labels, value) in samples {
        let labels: Vec<String> = labels
            .iter()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect();
        let _ = write!(text, "\n  {{{}}} {value}", labels.join(", "));
    }
    text
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read the log: {e})"))
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, BufReader, Write},
        net::TcpListener,
    };

    use super::*;

    /// Serves a fixed exposition to every request, as a scrape target.
    fn fixed_target(exposition: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a target port");
        let addr = listener.local_addr().expect("target address");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                // Read the request head, then answer and close.
                let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{exposition}",
                    exposition.len()
                );
            }
        });
        addr
    }

    #[tokio::test]
    #[cfg_attr(missing_prometheus, ignore = "needs prometheus (Debian prometheus)")]
    async fn scrapes_a_target_and_answers_queries() {
        let target = fixed_target(
            "# HELP testkit_answer The answer.\n# TYPE testkit_answer gauge\n\
             testkit_answer{kind=\"fixed\"} 42\n",
        )
        .to_string();
        let Some(mut server) = PrometheusServer::start("testkit", &[&target]).await else {
            return;
        };
        let up = server
            .wait_for(
                "up",
                |samples| samples.len() == 1 && samples[0].1 == 1.0,
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(up[0].0["job"], "testkit");
        assert_eq!(up[0].0["instance"], target);
        let answer = server.query("testkit_answer").await.unwrap();
        assert_eq!(answer.len(), 1, "{}", format_samples(&answer));
        assert_eq!(answer[0].0["kind"], "fixed");
        assert_eq!(answer[0].1, 42.0);
        // Scalars, empty results and errors.
        assert_eq!(server.query("1 + 1").await.unwrap(), [(Labels::new(), 2.0)]);
        assert!(server.query("absent_metric_xyz").await.unwrap().is_empty());
        let error = server.query("sum(").await.unwrap_err();
        assert!(error.contains("parse error"), "{error}");

        let addr = server.addr();
        server.stop();
        assert!(
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
            "the port still accepts connections after stop"
        );
        server.stop();
    }

    #[tokio::test]
    #[cfg_attr(missing_prometheus, ignore = "needs prometheus (Debian prometheus)")]
    async fn wait_for_fails_with_the_last_result() {
        let Some(server) = PrometheusServer::start("testkit", &[]).await else {
            return;
        };
        let message = server
            .try_wait_for("vector(7)", |_| false, Duration::from_millis(300))
            .await
            .expect_err("a predicate that never holds fails");
        assert!(
            message.contains("vector(7)") && message.contains("{} 7"),
            "{message}"
        );
        // The same query with a predicate that holds returns its result.
        let seven = server
            .try_wait_for("vector(7)", |s| s.len() == 1, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(seven, [(Labels::new(), 7.0)]);
    }

    #[test]
    fn config_quotes_job_and_targets() {
        let text = config("a job", &["127.0.0.1:1", "127.0.0.1:2"]);
        assert!(text.contains("job_name: \"a job\""), "{text}");
        assert!(
            text.contains("targets: [\"127.0.0.1:1\", \"127.0.0.1:2\"]"),
            "{text}"
        );
        assert!(text.contains("scrape_interval: 1s"), "{text}");
    }
}
