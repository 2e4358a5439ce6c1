//! Running the real `boutique` binary from a test: `boutique all` on
//! ephemeral loopback ports, read back from its "ready" log line, one
//! service per process (killed when the test ends, passed or not), the load
//! generator, and a shopper that walks the shop through a purchase.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use boutique_proto::directory::{self, Protocol, ServiceInfo};
use boutique_testkit::wait_for_port;

pub const BOUTIQUE: &str = env!("CARGO_BIN_EXE_boutique");

/// A running `boutique` process, interrupted (as by Ctrl-C) when dropped.
pub struct Running {
    child: Child,
    /// The storefront, `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    /// The admin port's metrics page.
    pub metrics_url: String,
    /// Every later JSON log line.
    pub logs: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `boutique all` on ephemeral ports (unless `extra` names the
    /// storefront's with `--listen`), its database in memory unless `extra`
    /// names one with `--data` (a test leaves nothing behind), and waits for
    /// its "ready" log event.
    pub fn all(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let memory: &[&str] = if extra.contains(&"--data") {
            &[]
        } else {
            &["--memory"]
        };
        let listen: &[&str] = if extra.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(BOUTIQUE)
            .args(["all", "--admin", "127.0.0.1:0"])
            .args(listen)
            .args(memory)
            .args(extra)
            .envs(env.iter().copied())
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let ready: serde_json::Value = loop {
            let line = logs
                .recv_timeout(Duration::from_secs(30))
                .expect("boutique all logs that it is ready");
            if line.contains("Boutique is ready.") {
                break serde_json::from_str(&line).unwrap();
            }
        };
        let field = |name: &str| {
            ready[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {ready}"))
                .trim_end_matches('/')
                .to_owned()
        };
        Self {
            url: field("url"),
            metrics_url: field("metrics"),
            child,
            logs,
        }
    }

    /// Starts `boutique SERVICE` on `port` and waits until it accepts connections.
    pub fn one(service: &str, port: u16, env: &[(&str, &str)]) -> Child {
        let child = spawn_one(service, port, env);
        wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(30)).unwrap();
        child
    }

    /// The storefront's `host:port`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Ctrl-C, then the exit status.
    pub fn interrupt(mut self) -> std::process::ExitStatus {
        interrupt(&mut self.child)
    }

    /// SIGKILL: the process dies where it stands, nothing drained.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM (Kubernetes, `docker stop`), then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        terminate(&mut self.child)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGINT and waits for the exit.
pub fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    signal(child, "-INT")
}

/// Sends SIGTERM and waits for the exit.
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    signal(child, "-TERM")
}

fn signal(child: &mut Child, signal: &str) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
    child.wait().unwrap()
}

/// A child process killed when dropped, so a failing test leaves none behind.
#[derive(Debug)]
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `boutique SERVICE` on `port` with `env`, without waiting for it.
pub fn spawn_one(service: &str, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(BOUTIQUE)
        .arg(service)
        .env("LISTEN_ADDR", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("ADMIN_PORT", "0")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The gRPC services of the directory (the storefront is HTTP), each on a
/// free loopback port, and the environment of every one of them.
pub struct GrpcShop {
    /// In the directory's order (each after the services it calls).
    pub services: Vec<&'static ServiceInfo>,
    /// Each service's port, by name.
    pub ports: HashMap<&'static str, u16>,
    /// Every service's address variable, and one SQLite file for all.
    pub env: Vec<(String, String)>,
}

impl GrpcShop {
    /// Every gRPC service on a port of its own, pointed at the others and at
    /// one SQLite file in `data` (as `boutique all` does), with `extra` too.
    pub fn new(data: &Path, extra: &[(&str, &str)]) -> Self {
        let services: Vec<_> = directory::ALL
            .iter()
            .copied()
            .filter(|s| matches!(s.protocol, Protocol::Grpc(_)))
            .collect();
        let ports: HashMap<_, _> = services
            .iter()
            .map(|s| (s.name, boutique_testkit::free_port()))
            .collect();
        let mut env: Vec<(String, String)> = services
            .iter()
            .map(|s| {
                (
                    s.addr_var.to_owned(),
                    format!("127.0.0.1:{}", ports[s.name]),
                )
            })
            .collect();
        let database_url = format!(
            "sqlite://{}",
            data.join(boutique_store::DATABASE_FILE).display()
        );
        env.extend(
            [
                ("DATA_DIR", data.to_str().unwrap()),
                // Payment keeps its ledger on disk only with a database URL.
                ("DATABASE_URL", database_url.as_str()),
            ]
            .into_iter()
            .chain(extra.iter().copied())
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        Self {
            services,
            ports,
            env,
        }
    }

    /// The arguments of `boutique all` that make it the storefront alone,
    /// using every one of these services.
    pub fn storefront_args(&self) -> Vec<String> {
        let mut uses: Vec<_> = self.ports.iter().collect();
        uses.sort();
        uses.into_iter()
            .flat_map(|(name, port)| ["--use".to_owned(), format!("{name}=127.0.0.1:{port}")])
            .collect()
    }
}

/// `env` as the pairs `Command::envs` takes.
pub fn env_pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// `boutique loadgen` against `url` in the background: shoppers browsing,
/// filling carts and checking out, with short think times, until
/// interrupted; its JSON report on stdout.
pub fn loadgen(url: &str, users: u32) -> Reaped {
    Reaped(
        Command::new(BOUTIQUE)
            .args(["loadgen", "--target", url, "--users", &users.to_string()])
            .args(["--spawn-rate", "100", "--think-time", "10ms..100ms"])
            .args(["--quiet", "--report", "json"])
            .args(["--admin-port", "0", "--listen-addr", "127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A card number that passes Luhn (a Visa test number).
pub const CARD: &str = "4432801561520454";

/// A shopper with a cookie jar.
pub fn shopper() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Puts `quantity` of `product` in the shopper's cart; the status, or the
/// transport error.
pub async fn try_add_to_cart(
    shop: &Running,
    client: &reqwest::Client,
    product: &str,
    quantity: &str,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    try_add_to_cart_at(&shop.url, client, product, quantity).await
}

/// [`try_add_to_cart`] on the storefront at `url`.
pub async fn try_add_to_cart_at(
    url: &str,
    client: &reqwest::Client,
    product: &str,
    quantity: &str,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let added = client
        .post(format!("{url}/cart"))
        .form(&[("product_id", product), ("quantity", quantity)])
        .send()
        .await?;
    Ok(added.status())
}

/// Puts `quantity` of `product` in the shopper's cart.
pub async fn add_to_cart(shop: &Running, client: &reqwest::Client, product: &str, quantity: &str) {
    let status = try_add_to_cart(shop, client, product, quantity)
        .await
        .unwrap();
    assert!(status.is_success(), "add to cart: {status}");
}

/// Submits the checkout form with valid details except, perhaps, `card` and
/// its expiry `year`, sending `headers` too; the status and the page.
pub async fn checkout(
    shop: &Running,
    client: &reqwest::Client,
    card: &str,
    year: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    try_checkout_at(&shop.url, client, card, year, headers)
        .await
        .unwrap()
}

/// [`checkout`] on the storefront at `url`; the transport error, if any.
pub async fn try_checkout_at(
    url: &str,
    client: &reqwest::Client,
    card: &str,
    year: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, String), reqwest::Error> {
    let mut request = client.post(format!("{url}/cart/checkout")).form(&[
        ("email", "someone@example.com"),
        ("street_address", "1600 Amphitheatre Parkway"),
        ("zip_code", "94043"),
        ("city", "Mountain View"),
        ("state", "CA"),
        ("country", "United States"),
        ("credit_card_number", card),
        ("credit_card_expiration_month", "1"),
        ("credit_card_expiration_year", year),
        ("credit_card_cvv", "672"),
    ]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Puts two of `product` in the cart, then checks out with valid details,
/// sending `headers` with the checkout. Returns the confirmation page.
pub async fn buy(
    shop: &Running,
    client: &reqwest::Client,
    product: &str,
    headers: &[(&str, &str)],
) -> String {
    add_to_cart(shop, client, product, "2").await;
    let (status, page) = checkout(shop, client, CARD, "2039", headers).await;
    assert!((200..300).contains(&status), "checkout: {status}: {page}");
    page
}
