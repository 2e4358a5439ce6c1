//! A flagd server's flags, followed over flagd's sync protocol (the
//! in-process resolver of flagd's providers): `SyncFlags` on flagd's sync port
//! answers with a stream of whole flag configurations, one at once and one
//! per change, and each goes through [`Engine::load`] as a file's would, so
//! evaluation stays in process and a change made at flagd (its file, its UI,
//! its Kubernetes resource) takes effect here as soon as flagd sends it.
//!
//! - **Reconnects for ever.** A stream that fails, is refused or ends (flagd
//!   restarting, a proxy timing it out, its `FLAGD_STREAM_DEADLINE_MS`) is
//!   opened again after a pause: `FLAGD_RETRY_BACKOFF_MS`, doubled per failure
//!   in a row up to `FLAGD_RETRY_BACKOFF_MAX_MS`, jittered, and never less
//!   than the first pause, so a proxy that fails streams at once cannot make
//!   a tight loop. The flags last loaded stay in force meanwhile.
//! - **A bad configuration changes nothing**: it is refused, logged and
//!   counted; the flags in force stay until a good one comes.
//! - **Selector and provider id** (`FLAGD_SOURCE_SELECTOR`,
//!   `FLAGD_PROVIDER_ID`) go in the request, and the selector also as the
//!   `flagd-selector` header that newer flagd versions read first.
//! - **Sync context**: the fields flagd sends with a configuration are added
//!   to every evaluation's context (the evaluation's own fields win).
//!   Scalars only; nested values are left out.

use std::{sync::Weak, time::Duration};

use open_feature::{EvaluationContext, EvaluationContextFieldValue};
use prost_types::value::Kind;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::{
    Code, Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};

use crate::{
    config::{Server, SyncAddress},
    engine::Engine,
    proto::{SyncFlagsRequest, SyncFlagsResponse, flag_sync_service_client::FlagSyncServiceClient},
};

/// The header newer flagd versions read the selector from.
const SELECTOR_HEADER: &str = "flagd-selector";

/// Follows `server` until `stop`, loading every configuration into `engine`.
pub(crate) async fn follow(engine: Weak<Engine>, server: Server, stop: CancellationToken) {
    let mut client = FlagSyncServiceClient::new(channel(&server));
    let source = format!("flagd {}", server.address);
    let mut failures: u32 = 0;
    loop {
        let followed = tokio::select! {
            () = stop.cancelled() => return,
            followed = follow_once(&engine, &mut client, &server, &source) => followed,
        };
        let pause = match followed {
            Followed::EngineGone => return,
            // A stream that lived and ended: open the next one soon.
            Followed::Ended { received } if received > 0 => {
                failures = 0;
                tracing::info!(flagd = %server.address, configurations = received, "The flagd sync stream ended; opening it again.");
                server.retry_backoff
            }
            Followed::Ended { .. } => {
                failures = failures.saturating_add(1);
                tracing::warn!(flagd = %server.address, "The flagd sync stream ended before any flags came; the flags in force stay.");
                backoff(&server, failures)
            }
            Followed::Failed { status, received } => {
                failures = if received > 0 {
                    1
                } else {
                    failures.saturating_add(1)
                };
                let pause = backoff(&server, failures);
                let hint = match status.code() {
                    Code::Unimplemented => {
                        "this port does not serve flagd's sync service: point FLAGD_SYNC_PORT at \
                         flagd's sync port (8015 by default), not its evaluation port (8013)"
                    }
                    _ => "the flags in force stay",
                };
                tracing::warn!(
                    flagd = %server.address,
                    code = ?status.code(),
                    error = %status.message(),
                    retry_in_ms = pause.as_millis(),
                    "Cannot follow flagd's flags; {hint}."
                );
                pause
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// How one stream went.
enum Followed {
    /// Nobody uses the flags any more.
    EngineGone,
    /// The server ended it (or its deadline passed) after this many
    /// configurations.
    Ended { received: u64 },
    /// It could not be opened, or broke, after this many configurations.
    Failed { status: Status, received: u64 },
}

/// Opens one stream and loads what it brings until it ends.
async fn follow_once(
    engine: &Weak<Engine>,
    client: &mut FlagSyncServiceClient<Channel>,
    server: &Server,
    source: &str,
) -> Followed {
    let mut request = tonic::Request::new(SyncFlagsRequest {
        provider_id: server.provider_id.clone().unwrap_or_default(),
        selector: server.selector.clone().unwrap_or_default(),
    });
    if let Some(selector) = &server.selector
        && let Ok(value) = MetadataValue::try_from(selector.as_str())
    {
        request.metadata_mut().insert(SELECTOR_HEADER, value);
    }
    let opened = tokio::time::timeout(server.deadline, client.sync_flags(request)).await;
    let mut stream = match opened {
        Ok(Ok(stream)) => stream.into_inner(),
        Ok(Err(status)) => {
            return Followed::Failed {
                status,
                received: 0,
            };
        }
        Err(_) => {
            return Followed::Failed {
                status: Status::deadline_exceeded(format!(
                    "no answer within FLAGD_DEADLINE_MS ({} ms)",
                    server.deadline.as_millis()
                )),
                received: 0,
            };
        }
    };
    match engine.upgrade() {
        Some(engine) => engine.stream_opened(),
        None => return Followed::EngineGone,
    }
    tracing::debug!(flagd = %server.address, "Opened flagd's sync stream.");
    let ends = server.stream_deadline.map(|d| Instant::now() + d);
    let mut received = 0;
    loop {
        let next = match ends {
            Some(ends) => match tokio::time::timeout_at(ends, stream.message()).await {
                Ok(next) => next,
                Err(_) => return Followed::Ended { received },
            },
            None => stream.message().await,
        };
        let response = match next {
            Ok(Some(response)) => response,
            Ok(None) => return Followed::Ended { received },
            Err(status) => return Followed::Failed { status, received },
        };
        let Some(engine) = engine.upgrade() else {
            return Followed::EngineGone;
        };
        received += 1;
        load(&engine, source, response);
    }
}

fn load(engine: &Engine, source: &str, response: SyncFlagsResponse) {
    let context = response
        .sync_context
        .map(|context| evaluation_context(&context))
        .unwrap_or_default();
    engine.load(source, response.flag_configuration.as_bytes(), context);
}

/// The pause after `failures` failures in a row: the first backoff doubled
/// per failure, at most the longest, then jittered down by up to a quarter,
/// never below the first.
fn backoff(server: &Server, failures: u32) -> Duration {
    let doubled = server
        .retry_backoff
        .saturating_mul(1_u32 << failures.saturating_sub(1).min(16));
    let capped = doubled.min(server.retry_backoff_max);
    let jittered = capped.mul_f64(1.0 - rand::random::<f64>() / 4.0);
    jittered.max(server.retry_backoff)
}

/// A lazily connecting channel to flagd's sync service: it connects when the
/// first stream is opened and again after the connection is lost.
fn channel(server: &Server) -> Channel {
    match &server.address {
        SyncAddress::Tcp { .. } => {
            let endpoint = Endpoint::from_shared(format!("http://{}", server.address))
                // Checked when the configuration was read.
                .unwrap_or_else(|_| Endpoint::from_static("http://localhost:8015"));
            configure(endpoint, server).connect_lazy()
        }
        SyncAddress::Unix(path) => {
            let path = path.clone();
            // The URI is not used to connect: the connector dials the socket.
            configure(Endpoint::from_static("http://flagd.sock"), server)
                .connect_with_connector_lazy(tower::service_fn(move |_: tonic::transport::Uri| {
                    let path = path.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                    }
                }))
        }
    }
}

fn configure(endpoint: Endpoint, server: &Server) -> Endpoint {
    let endpoint = endpoint.connect_timeout(server.deadline).tcp_nodelay(true);
    match server.keep_alive {
        Some(interval) => endpoint
            .http2_keep_alive_interval(interval)
            .keep_alive_while_idle(true),
        None => endpoint,
    }
}

/// flagd's sync context as an evaluation context: strings, numbers (whole
/// ones as integers) and booleans; nulls, lists and objects are left out.
fn evaluation_context(context: &prost_types::Struct) -> EvaluationContext {
    let mut evaluation = EvaluationContext::default();
    for (name, value) in &context.fields {
        let value = match &value.kind {
            Some(Kind::StringValue(s)) => EvaluationContextFieldValue::String(s.clone()),
            Some(Kind::BoolValue(b)) => EvaluationContextFieldValue::Bool(*b),
            Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                EvaluationContextFieldValue::Int(*n as i64)
            }
            Some(Kind::NumberValue(n)) => EvaluationContextFieldValue::Float(*n),
            _ => {
                tracing::debug!(field = %name, "A sync context field that is not a scalar is left out.");
                continue;
            }
        };
        evaluation.add_custom_field(name.clone(), value);
    }
    evaluation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FlagsConfig, HOST_VAR, RETRY_BACKOFF_MAX_VAR, RETRY_BACKOFF_VAR};
    use boutique_platform::Env;

    #[test]
    fn backs_off_doubling_within_bounds() {
        let env = Env::from_pairs([
            (HOST_VAR, "flagd"),
            (RETRY_BACKOFF_VAR, "100"),
            (RETRY_BACKOFF_MAX_VAR, "1000"),
        ]);
        let FlagsConfig::Server(server) = FlagsConfig::from_env(&env).unwrap() else {
            panic!("a server");
        };
        for _ in 0..100 {
            let first = backoff(&server, 1);
            assert_eq!(first, Duration::from_millis(100));
            let third = backoff(&server, 3);
            assert!(
                (Duration::from_millis(300)..=Duration::from_millis(400)).contains(&third),
                "{third:?}"
            );
            let many = backoff(&server, 40);
            assert!(
                (Duration::from_millis(750)..=Duration::from_secs(1)).contains(&many),
                "{many:?}"
            );
        }
    }

    #[test]
    fn the_sync_context_keeps_scalars() {
        use prost_types::{ListValue, Struct, Value};
        let value = |kind| Value { kind: Some(kind) };
        let context = Struct {
            fields: [
                ("region", value(Kind::StringValue("eu".into()))),
                ("tier", value(Kind::NumberValue(2.0))),
                ("ratio", value(Kind::NumberValue(0.5))),
                ("beta", value(Kind::BoolValue(true))),
                ("none", value(Kind::NullValue(0))),
                ("list", value(Kind::ListValue(ListValue::default()))),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        };
        let evaluation = evaluation_context(&context);
        let fields = &evaluation.custom_fields;
        assert_eq!(fields.len(), 4, "{fields:?}");
        assert_eq!(fields["region"].as_str(), Some("eu"));
        assert_eq!(fields["tier"].as_i64(), Some(2));
        assert_eq!(fields["ratio"].as_f64(), Some(0.5));
        assert_eq!(fields["beta"].as_bool(), Some(true));
    }
}
