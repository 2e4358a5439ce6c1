//! The OpenFeature provider of one flag set (a flag file, or one
//! configuration from flagd's sync stream): flagd's own evaluation engine
//! (`flagd-evaluation-engine`, the engine inside flagd's Rust provider) on the
//! parsed flags, behind OpenFeature's `FeatureProvider` interface.
//!
//! Why not `open-feature-flagd` itself: every resolver of it that reads a
//! file or talks gRPC compiles flagd's protos with `protoc` at build time,
//! which Boutique does not need anywhere else (our protos go through protox,
//! flagd's sync protocol too: see `sync`), and its REST resolver brings
//! reqwest's aws-lc TLS. The engine is the same, so a flag set evaluates here
//! exactly as in flagd.

use std::collections::HashMap;

use flagd_evaluation_engine::{FeatureFlag, FlagParser, Operator};
use open_feature::{
    EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationReason, StructValue,
    provider::{FeatureProvider, ProviderMetadata, ResolutionDetails},
};
use serde_json::Value;

use crate::engine::PROVIDER_NAME;

/// A parsed flag set, evaluated in process.
pub(crate) struct FlagSetProvider {
    flags: HashMap<String, FeatureFlag>,
    operator: Operator,
    metadata: ProviderMetadata,
    /// Fields every evaluation gets unless its own context has them (flagd's
    /// sync context); `None` when there are none, so nothing is merged.
    static_context: Option<EvaluationContext>,
}

impl FlagSetProvider {
    /// Parses `text` as flagd does (`$evaluators` and all).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let parsed = FlagParser::parse_string(text).map_err(|e| e.to_string())?;
        Ok(Self {
            flags: parsed.flags,
            operator: Operator::new(),
            metadata: ProviderMetadata::new(PROVIDER_NAME),
            static_context: None,
        })
    }

    /// The same flags, evaluated with `context`'s fields added to every
    /// evaluation's own (which win on a clash).
    pub(crate) fn with_static_context(mut self, context: EvaluationContext) -> Self {
        self.static_context = (!context.custom_fields.is_empty()
            || context.targeting_key.is_some())
        .then_some(context);
        self
    }

    pub(crate) fn resolve<T>(
        &self,
        key: &str,
        context: &EvaluationContext,
        convert: impl Fn(&Value) -> Option<T>,
    ) -> Result<ResolutionDetails<T>, EvaluationError> {
        let error = |code: EvaluationErrorCode, message: String| {
            EvaluationError::builder()
                .code(code)
                .message(message)
                .build()
        };
        let flag = self
            .flags
            .get(key)
            .filter(|flag| flag.state != "DISABLED")
            .ok_or_else(|| error(EvaluationErrorCode::FlagNotFound, format!("no flag {key}")))?;
        let (variant, reason) = if flag.targeting.is_none() {
            (flag.default_variant.clone(), EvaluationReason::Static)
        } else {
            let merged;
            let context = match &self.static_context {
                None => context,
                Some(fixed) => {
                    let mut own = context.clone();
                    own.merge_missing(fixed);
                    merged = own;
                    &merged
                }
            };
            match self
                .operator
                .apply(key, &flag.get_targeting(), context)
                .map_err(|e| error(EvaluationErrorCode::ParseError, e.to_string()))?
            {
                Some(variant) => (variant, EvaluationReason::TargetingMatch),
                None => (flag.default_variant.clone(), EvaluationReason::Default),
            }
        };
        let value = flag.variants.get(&variant).ok_or_else(|| {
            error(
                EvaluationErrorCode::General(format!("no variant {variant}")),
                format!("flag {key} has no variant {variant}"),
            )
        })?;
        let value = convert(value).ok_or_else(|| {
            error(
                EvaluationErrorCode::TypeMismatch,
                format!("flag {key}: {value} is of another type"),
            )
        })?;
        Ok(ResolutionDetails {
            value,
            variant: Some(variant),
            reason: Some(reason),
            flag_metadata: None,
        })
    }
}

#[tonic::async_trait]
impl FeatureProvider for FlagSetProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        key: &str,
        context: &EvaluationContext,
    ) -> Result<ResolutionDetails<bool>, EvaluationError> {
        self.resolve(key, context, Value::as_bool)
    }

    async fn resolve_int_value(
        &self,
        key: &str,
        context: &EvaluationContext,
    ) -> Result<ResolutionDetails<i64>, EvaluationError> {
        self.resolve(key, context, Value::as_i64)
    }

    async fn resolve_float_value(
        &self,
        key: &str,
        context: &EvaluationContext,
    ) -> Result<ResolutionDetails<f64>, EvaluationError> {
        self.resolve(key, context, Value::as_f64)
    }

    async fn resolve_string_value(
        &self,
        key: &str,
        context: &EvaluationContext,
    ) -> Result<ResolutionDetails<String>, EvaluationError> {
        self.resolve(key, context, |value| value.as_str().map(str::to_owned))
    }

    async fn resolve_struct_value(
        &self,
        key: &str,
        _context: &EvaluationContext,
    ) -> Result<ResolutionDetails<StructValue>, EvaluationError> {
        // No Boutique flag is an object.
        Err(EvaluationError::builder()
            .code(EvaluationErrorCode::TypeMismatch)
            .message(format!("flag {key}: object flags are not supported"))
            .build())
    }
}
