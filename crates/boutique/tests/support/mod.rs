//! Running the real `boutique` binary from a test: `boutique all` on
//! ephemeral loopback ports, read back from its "ready" log line, and a
//! shopper that walks it through a purchase.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

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
    /// Starts `boutique all` on ephemeral ports, its database in memory
    /// unless `extra` names one with `--data` (a test leaves nothing behind),
    /// and waits for its "ready" log event.
    pub fn all(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let memory: &[&str] = if extra.contains(&"--data") {
            &[]
        } else {
            &["--memory"]
        };
        let mut child = Command::new(BOUTIQUE)
            .args(["all", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
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
        let child = Command::new(BOUTIQUE)
            .arg(service)
            .env("LISTEN_ADDR", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("ADMIN_PORT", "0")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
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
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGINT and waits for the exit.
pub fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    child.wait().unwrap()
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
    let added = client
        .post(format!("{}/cart", shop.url))
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
    let mut request = client.post(format!("{}/cart/checkout", shop.url)).form(&[
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
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
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
