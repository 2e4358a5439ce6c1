//! Every evaluation on the current span and in a metric.
//!
//! The span gets an event `feature_flag.evaluation` with the OpenTelemetry
//! feature-flag semantic conventions' attributes (`feature_flag.key`,
//! `feature_flag.provider.name`, `feature_flag.result.variant`,
//! `feature_flag.result.reason`, and `error.type` when the provider failed),
//! so a trace shows which flag made a call fail or slow. The metric is
//! `boutique_feature_flag_evaluations_total{service_name, flag, variant}`.

use boutique_platform::{Telemetry, telemetry::Counter};
use opentelemetry::{Context, KeyValue, trace::TraceContextExt};

use crate::engine::PROVIDER_NAME;

/// The metric's name.
pub const EVALUATIONS_METRIC: &str = "boutique_feature_flag_evaluations_total";
/// The span event's name.
pub const EVALUATION_EVENT: &str = "feature_flag.evaluation";

/// The variant label of an evaluation that failed (the default was used).
pub const ERROR_VARIANT: &str = "error";

/// The longest variant name recorded as is; longer ones (from a flag file we
/// do not control) count as `other`, so the metric's labels stay bounded.
const MAX_VARIANT_LEN: usize = 32;

/// One evaluation's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation<'a> {
    /// The flag.
    pub flag: &'a str,
    /// The variant the provider chose (`None`: it named none).
    pub variant: Option<&'a str>,
    /// Why (the provider's reason: `STATIC`, `TARGETING_MATCH`, `DISABLED`, ...).
    pub reason: Option<String>,
    /// The provider's error code, when it failed and the default was used.
    pub error: Option<String>,
}

/// Records evaluations for one service.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    evaluations: Counter,
}

impl Recorder {
    pub(crate) fn new(telemetry: &Telemetry) -> Self {
        Self {
            evaluations: telemetry.metrics().counter(
                EVALUATIONS_METRIC,
                "Feature-flag evaluations, by flag and variant (`error`: the default was used).",
                &["flag", "variant"],
            ),
        }
    }

    pub(crate) fn record(&self, evaluation: &Evaluation<'_>) {
        let variant = variant_label(evaluation);
        self.evaluations.inc(&[evaluation.flag, variant]);
        record_on_span(evaluation);
    }
}

fn variant_label<'a>(evaluation: &Evaluation<'a>) -> &'a str {
    match (evaluation.error.is_some(), evaluation.variant) {
        (true, _) => ERROR_VARIANT,
        (false, Some(variant)) if variant.len() <= MAX_VARIANT_LEN => variant,
        (false, Some(_)) => "other",
        (false, None) => "unknown",
    }
}

/// Adds the evaluation event to the current span, when it is recorded.
pub fn record_on_span(evaluation: &Evaluation<'_>) {
    let context = Context::current();
    let span = context.span();
    if !span.is_recording() {
        return;
    }
    let mut attributes = vec![
        KeyValue::new("feature_flag.key", evaluation.flag.to_owned()),
        KeyValue::new("feature_flag.provider.name", PROVIDER_NAME),
    ];
    if let Some(variant) = evaluation.variant {
        attributes.push(KeyValue::new(
            "feature_flag.result.variant",
            variant.to_owned(),
        ));
    }
    if let Some(reason) = &evaluation.reason {
        attributes.push(KeyValue::new(
            "feature_flag.result.reason",
            reason.to_ascii_lowercase(),
        ));
    }
    if let Some(error) = &evaluation.error {
        attributes.push(KeyValue::new("error.type", error.clone()));
    }
    span.add_event(EVALUATION_EVENT, attributes);
}
