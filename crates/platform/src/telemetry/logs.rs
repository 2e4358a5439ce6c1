//! Logging through `tracing`: JSON lines when stdout is not a terminal (as in a
//! container, for Loki and friends), human-readable text on a terminal.
//!
//! A JSON line is one object: `timestamp` (RFC 3339, UTC), `severity`
//! (`TRACE`..`ERROR`), `message`, `target`, `service`, the event's own
//! fields, and `trace_id`/`span_id` when the event happens inside a traced
//! call (also with tracing off, when the caller sent a `traceparent`), so a
//! log search jumps straight to the trace.
//!
//! Settings: `LOG_LEVEL` or `RUST_LOG` (an `EnvFilter`, default `info`), and
//! `LOG_FORMAT` = `json` | `text` to override the terminal check.

use std::{fmt as std_fmt, io::IsTerminal};

use opentelemetry::Context;
use serde_json::{Map, Value};
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        self, FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::{JsonFields, Writer},
        time::{FormatTime, SystemTime},
    },
    prelude::*,
    registry::LookupSpan,
};

use super::{CurrentService, trace};
use crate::config::{ConfigError, Env};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Aligned, coloured text for people.
    Text,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The filter directive, e.g. `info,boutique_cart=debug`.
    pub filter: String,
    /// The line format.
    pub format: LogFormat,
}

impl LogConfig {
    /// Reads `LOG_LEVEL`/`RUST_LOG` and `LOG_FORMAT`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let filter = env
            .get("LOG_LEVEL")
            .or_else(|| env.get("RUST_LOG"))
            .unwrap_or("info")
            .to_owned();
        // Validate now so a typo is a startup error, not silence.
        EnvFilter::try_new(&filter).map_err(|e| ConfigError::new("LOG_LEVEL", &filter, e))?;
        let format = env
            .parse_with("LOG_FORMAT", |v| match v.to_ascii_lowercase().as_str() {
                "json" => Ok(LogFormat::Json),
                "text" => Ok(LogFormat::Text),
                _ => Err("expected json or text"),
            })?
            .unwrap_or(if std::io::stdout().is_terminal() {
                LogFormat::Text
            } else {
                LogFormat::Json
            });
        Ok(Self { filter, format })
    }
}

/// Installs the global subscriber. Call once, early in `main`. `service` is
/// the `service` of lines written outside any service's calls (`boutique`
/// for the whole shop).
pub fn init(config: &LogConfig, service: &'static str) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(JsonLines { service }),
            )
            .init(),
        LogFormat::Text => registry.with(fmt::layer().with_target(false)).init(),
    }
}

/// The JSON line format described in the module docs. Fields of the spans
/// around the event (a request's id and path, say) are included; the event's
/// own fields win a clash. Install with [`JsonFields`] as the field formatter,
/// which keeps span fields as JSON.
#[derive(Debug, Clone, Copy)]
pub struct JsonLines {
    /// The `service` outside any service's calls.
    pub service: &'static str,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std_fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert(
            "severity".into(),
            Value::String(metadata.level().as_str().to_owned()),
        );
        line.insert("message".into(), Value::String(String::new()));
        event.record(&mut FieldVisitor(&mut line));
        for span in context
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            let extensions = span.extensions();
            let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                continue;
            };
            if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                for (key, value) in fields {
                    line.entry(key).or_insert(value);
                }
            }
        }
        line.insert("target".into(), Value::String(metadata.target().to_owned()));
        let service = Context::map_current(|context| {
            context.get::<CurrentService>().map(|current| current.0)
        });
        // An event's own `service` field (startup lines name their service) wins.
        line.entry("service")
            .or_insert_with(|| Value::String(service.unwrap_or(self.service).to_owned()));
        if let Some((trace_id, span_id)) = trace::current_ids() {
            line.insert("trace_id".into(), Value::String(trace_id));
            line.insert("span_id".into(), Value::String(span_id));
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Copies an event's fields into the JSON object, keeping numbers and booleans typed.
struct FieldVisitor<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::Bool(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std_fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };

    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buffer: &Buffer) -> Vec<Value> {
        String::from_utf8(buffer.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn json_lines_carry_severity_service_span_fields_and_trace_ids() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(
            fmt::layer()
                .fmt_fields(JsonFields::new())
                .event_format(JsonLines {
                    service: "boutique",
                })
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(count = 3, ok = true, "Outside any call.");
            let remote = SpanContext::new(
                TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
                SpanId::from_hex("00f067aa0ba902b7").unwrap(),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            );
            let context = Context::new()
                .with_remote_span_context(remote)
                .with_value(CurrentService("cart"));
            let _attached = context.attach();
            let span = tracing::info_span!("request", path = "/cart", request_id = "r1");
            let _entered = span.enter();
            tracing::info!(path = "/own", "Inside a call.");
        });
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 2, "{lines:?}");

        let outside = &lines[0];
        assert_eq!(outside["severity"], "WARN");
        assert_eq!(outside["message"], "Outside any call.");
        assert_eq!(outside["service"], "boutique");
        assert_eq!(outside["count"], 3);
        assert_eq!(outside["ok"], true);
        assert!(outside.get("trace_id").is_none());
        assert!(outside["timestamp"].as_str().unwrap().ends_with('Z'));

        let inside = &lines[1];
        assert_eq!(inside["severity"], "INFO");
        assert_eq!(inside["service"], "cart");
        assert_eq!(inside["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(inside["span_id"], "00f067aa0ba902b7");
        assert_eq!(inside["request_id"], "r1", "span fields are included");
        assert_eq!(inside["path"], "/own", "the event's own field wins");
    }
}
