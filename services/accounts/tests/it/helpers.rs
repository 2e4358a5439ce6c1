//! Starts the service on a fresh database of each kind and hands out a
//! client, plus token crafting with the test's own keys.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::STANDARD};
use boutique_accounts::{Claims, Config, ISSUER};
use boutique_platform::{Env, ServiceConfig, error::error_reason, testing::TestServer};
use boutique_proto::boutique::accounts::v1::{
    AuthenticateRequest, SignInRequest, SignInResponse, SignUpRequest, SignUpResponse,
    accounts_service_client::AccountsServiceClient,
};
use boutique_testkit::postgres::PostgresServer;
use tonic::{Code, Status, transport::Channel};

/// The key the tests configure by default: id `k1`, 32 bytes of 1.
pub(crate) const K1: (&str, [u8; 32]) = ("k1", [1; 32]);

/// A password that passes every rule.
pub(crate) const GOOD: &str = "plum tart at noon";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    SqliteFile,
    SqliteMemory,
    Postgres,
}

/// A fresh database and what keeps it alive.
#[derive(Debug)]
pub(crate) struct TestDb {
    pub(crate) url: String,
    pub(crate) dir: Option<tempfile::TempDir>,
    _server: Option<PostgresServer>,
}

impl TestDb {
    /// A fresh database of `kind`, or `None` to skip (PostgreSQL missing).
    pub(crate) fn new(kind: Kind) -> Option<Self> {
        Some(match kind {
            Kind::SqliteFile => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("boutique.db").display());
                Self {
                    url,
                    dir: Some(dir),
                    _server: None,
                }
            }
            Kind::SqliteMemory => Self {
                url: "sqlite::memory:".to_owned(),
                dir: None,
                _server: None,
            },
            Kind::Postgres => {
                let server = PostgresServer::start()?;
                Self {
                    url: server.create_database(),
                    dir: None,
                    _server: Some(server),
                }
            }
        })
    }
}

/// A running service and a client to it, with the orders service it calls
/// (on a private in-memory database) unless the settings named another.
pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: AccountsServiceClient<Channel>,
    pub(crate) orders: Option<TestServer>,
}

/// `kid:base64` for a key list.
pub(crate) fn key_list(keys: &[(&str, [u8; 32])]) -> String {
    keys.iter()
        .map(|(kid, bytes)| format!("{kid}:{}", STANDARD.encode(bytes)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The service on `db` with the key [`K1`] and `settings` on top.
pub(crate) async fn spawn(db: &TestDb, settings: &[(&str, &str)]) -> TestApp {
    let mut env = Env::from_pairs([
        ("LISTEN_ADDR", "127.0.0.1"),
        ("PORT", "0"),
        ("DATABASE_URL", db.url.as_str()),
    ])
    .with("ACCOUNTS_TOKEN_KEYS", key_list(&[K1]));
    for (name, value) in settings {
        env = env.with(name, *value);
    }
    spawn_env(&env).await
}

/// The service configured by `env`, plus an orders service of its own when
/// `env` names none.
pub(crate) async fn spawn_env(env: &Env) -> TestApp {
    let (env, orders) = if env.get("ORDERS_SERVICE_ADDR").is_some() {
        (env.clone(), None)
    } else {
        let orders = TestServer::start(boutique_orders::Config {
            database: boutique_store::StoreConfig::memory(),
            ..boutique_orders::Config::from_env(&Env::from_pairs([
                ("LISTEN_ADDR", "127.0.0.1"),
                ("PORT", "0"),
            ]))
            .expect("valid settings")
        })
        .await;
        (
            env.clone()
                .with("ORDERS_SERVICE_ADDR", orders.addr().to_string()),
            Some(orders),
        )
    };
    let config = Config::from_env(&env).expect("valid settings");
    let server = TestServer::start(config).await;
    let client = AccountsServiceClient::new(server.channel().await);
    TestApp {
        server,
        client,
        orders,
    }
}

impl TestApp {
    pub(crate) async fn sign_up(
        &mut self,
        email: &str,
        password: &str,
    ) -> Result<SignUpResponse, Status> {
        self.client
            .sign_up(SignUpRequest {
                email: email.to_owned(),
                display_name: String::new(),
                password: password.to_owned(),
                client_address: "192.0.2.1:4000".to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub(crate) async fn sign_in_from(
        &mut self,
        email: &str,
        password: &str,
        address: &str,
    ) -> Result<SignInResponse, Status> {
        self.client
            .sign_in(SignInRequest {
                email: email.to_owned(),
                password: password.to_owned(),
                client_address: address.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub(crate) async fn sign_in(
        &mut self,
        email: &str,
        password: &str,
    ) -> Result<SignInResponse, Status> {
        self.sign_in_from(email, password, "192.0.2.1").await
    }

    /// The account id the token belongs to, or the refusal.
    pub(crate) async fn whoami(&mut self, token: &str) -> Result<String, Status> {
        self.client
            .authenticate(AuthenticateRequest {
                token: token.to_owned(),
            })
            .await
            .map(|r| r.into_inner().account.expect("an account").id)
    }

    /// The accounts metric `name` with these labels (besides `service_name`).
    pub(crate) fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self.server.telemetry().metrics().registry().render();
        let mut all = vec![("service_name", "accounts")];
        all.extend_from_slice(labels);
        boutique_platform::testing::sample(&text, name, &all).unwrap_or(0.0)
    }
}

/// Fails unless `result` is a refusal with `code` and `reason`.
#[track_caller]
pub(crate) fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    reason: &str,
) -> Status {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    let (got, _) = error_reason(&status).unwrap_or_else(|| panic!("no reason: {status:?}"));
    assert_eq!(got, reason, "{status:?}");
    status
}

/// Seconds since the epoch.
pub(crate) fn now_s() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A token for `account_id` signed with `(kid, key)`, as the service would
/// issue it, with the given times.
pub(crate) fn craft(account_id: &str, (kid, key): (&str, [u8; 32]), iat: i64, exp: i64) -> String {
    let claims = Claims {
        sub: account_id.to_owned(),
        jti: uuid_like(),
        iat,
        exp,
        iss: ISSUER.to_owned(),
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&key),
    )
    .unwrap()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("test-jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Defines, for each `async fn name(TestDb)`, a module `name` with one test
/// per backend: `sqlite_file`, `sqlite_memory`, `postgres`.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::{Kind, TestDb};

                async fn run(kind: Kind) {
                    if let Some(db) = TestDb::new(kind) {
                        super::$name(db).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_file() {
                    run(Kind::SqliteFile).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_memory() {
                    run(Kind::SqliteMemory).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(missing_postgres, ignore = "needs PostgreSQL (Debian postgresql)")]
                async fn postgres() {
                    run(Kind::Postgres).await;
                }
            }
        )*
    };
}
pub(crate) use on_every_backend;
