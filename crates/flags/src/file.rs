//! The flagd flag-definition file, checked before it is handed to the
//! provider: a file that fails here is logged and the flags in force stay.
//!
//! The shape is flagd's (`flags.{name}.state/variants/defaultVariant`, an
//! optional `targeting` rule, `$schema`, `$evaluators` and `metadata`); the
//! provider evaluates it. This check is what a reload needs to be safe and
//! what CI needs to compare the repository's file with the flag table.

use std::collections::BTreeMap;

use serde_json::Value;

/// A flag file that passed the check.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagFile {
    /// Every flag, by name.
    pub flags: BTreeMap<String, FlagDefinition>,
}

/// One flag of a [`FlagFile`].
#[derive(Debug, Clone, PartialEq)]
pub struct FlagDefinition {
    /// `ENABLED` or `DISABLED`.
    pub enabled: bool,
    /// Variant name to value.
    pub variants: BTreeMap<String, Value>,
    /// The variant without targeting.
    pub default_variant: String,
    /// Whether a targeting rule is present.
    pub targeted: bool,
    /// The variant names the targeting rule can answer, or `None` when it
    /// can compute one (see [`choices`]).
    chosen: Option<Vec<String>>,
}

pub(crate) fn is_off(value: &Value) -> bool {
    match value {
        Value::Bool(on) => !on,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Null => true,
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// Adds to `found` the names `rule` can answer (its results: a literal, the
/// branches of `if`/`?:`, the buckets of flagd's `fractional`; not the
/// conditions, whose strings are compared, not answered). False when it can
/// compute a name instead (`cat`, `substr`, a context value through `var`, a
/// shared `$ref`, any other operator), which could then be any variant.
fn choices(rule: &Value, found: &mut Vec<String>) -> bool {
    match rule {
        Value::Null => true,
        Value::String(name) => {
            found.push(name.clone());
            true
        }
        Value::Bool(_) | Value::Number(_) => {
            found.push(rule.to_string());
            true
        }
        Value::Object(operation) => {
            let mut operation = operation.iter();
            let (Some((operator, Value::Array(args))), None) = (operation.next(), operation.next())
            else {
                return false;
            };
            match operator.as_str() {
                "if" | "?:" => args
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 1 || *i + 1 == args.len())
                    .all(|(_, branch)| choices(branch, found)),
                "fractional" => args.iter().all(|arg| match arg {
                    Value::Array(bucket) => match bucket.first() {
                        Some(Value::String(name)) => {
                            found.push(name.clone());
                            true
                        }
                        _ => false,
                    },
                    // The bucketing key: an input, not a result.
                    _ => true,
                }),
                _ => false,
            }
        }
        Value::Array(_) => false,
    }
}

impl FlagDefinition {
    /// Whether an evaluation can give anything but an off value (`false`,
    /// `0`, `""`, `null`): enabled, and the default variant is on, or a
    /// variant its targeting can answer is (any variant, for a rule that
    /// computes the name it answers). A flag that cannot is answered off
    /// without asking the provider.
    pub fn may_be_on(&self) -> bool {
        let on = |value: &Value| !is_off(value);
        let chosen_on = match &self.chosen {
            Some(names) => names
                .iter()
                .any(|name| self.variants.get(name).is_some_and(on)),
            None => self.variants.values().any(on),
        };
        self.enabled && (on(self.default_value()) || chosen_on)
    }

    /// The value of the default variant.
    pub fn default_value(&self) -> &Value {
        &self.variants[&self.default_variant]
    }
}

/// Why a flag file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagFileError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// JSON, but not a flag file.
    #[error("{0}")]
    Shape(String),
}

impl FlagFile {
    /// Parses and checks `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, FlagFileError> {
        let root: Value =
            serde_json::from_slice(bytes).map_err(|e| FlagFileError::Json(e.to_string()))?;
        let shape = |message: String| FlagFileError::Shape(message);
        let flags = root
            .get("flags")
            .and_then(Value::as_object)
            .ok_or_else(|| shape("no \"flags\" object".to_owned()))?;
        let mut parsed = BTreeMap::new();
        for (name, flag) in flags {
            parsed.insert(
                name.clone(),
                FlagDefinition::parse(flag).map_err(|e| shape(format!("flag {name:?}: {e}")))?,
            );
        }
        Ok(Self { flags: parsed })
    }
}

impl FlagDefinition {
    fn parse(flag: &Value) -> Result<Self, String> {
        let enabled = match flag.get("state").and_then(Value::as_str) {
            Some("ENABLED") => true,
            Some("DISABLED") => false,
            _ => return Err("state must be ENABLED or DISABLED".to_owned()),
        };
        let variants: BTreeMap<String, Value> = flag
            .get("variants")
            .and_then(Value::as_object)
            .filter(|variants| !variants.is_empty())
            .ok_or("variants must be a non-empty object")?
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let default_variant = flag
            .get("defaultVariant")
            .and_then(Value::as_str)
            .ok_or("defaultVariant must be a string")?
            .to_owned();
        if !variants.contains_key(&default_variant) {
            return Err(format!(
                "defaultVariant {default_variant:?} is not a variant"
            ));
        }
        let targeting = flag.get("targeting");
        if targeting.is_some_and(|rule| !rule.is_object()) {
            return Err("targeting must be an object".to_owned());
        }
        let targeted =
            targeting.is_some_and(|rule| rule.as_object().is_some_and(|o| !o.is_empty()));
        let mut chosen = Vec::new();
        let known = match targeting {
            Some(rule) if targeted => choices(rule, &mut chosen),
            _ => true,
        };
        Ok(Self {
            enabled,
            variants,
            default_variant,
            targeted,
            chosen: known.then_some(chosen),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flagd_files_and_refuses_others() {
        let good = br#"{"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": {
            "a": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
            "b": {"state": "DISABLED", "variants": {"x": 0.5}, "defaultVariant": "x",
                  "targeting": {"if": [{"==": [{"var": "method"}, "M"]}, "x", null]}}}}"#;
        let file = FlagFile::parse(good).unwrap();
        assert_eq!(file.flags.len(), 2);
        assert_eq!(file.flags["a"].default_value(), &Value::Bool(false));
        assert!(!file.flags["b"].enabled);
        assert!(file.flags["b"].targeted);
        assert!(!file.flags["a"].may_be_on(), "off by default, no targeting");
        assert!(!file.flags["b"].may_be_on(), "disabled");
        let targeted = br#"{"flags": {
            "off": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                    "targeting": {"if": [{"==": [{"var": "id"}, "on"]}, null, "off"]}},
            "on": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                   "targeting": {"if": [{"==": [{"var": "id"}, "x"]}, "on", null]}}}}"#;
        let file = FlagFile::parse(targeted).unwrap();
        // Only what a rule answers counts: "on" compared in a condition
        // is not an answer.
        assert!(!file.flags["off"].may_be_on());
        assert!(file.flags["on"].may_be_on());
        // A rule that computes its variant's name (found by the flag_file fuzz
        // target's property): the flag must not be answered off unasked.
        let computed =
            br#"{"flags": {"f": {"state": "ENABLED", "variants": {"on": true, "off": false},
            "defaultVariant": "off", "targeting": {"cat": ["o", "n"]}}}}"#;
        assert!(FlagFile::parse(computed).unwrap().flags["f"].may_be_on());
        let by_context =
            br#"{"flags": {"f": {"state": "ENABLED", "variants": {"slow": 500, "off": 0},
            "defaultVariant": "off", "targeting": {"var": "variant"}}}}"#;
        assert!(FlagFile::parse(by_context).unwrap().flags["f"].may_be_on());
        let buckets = br#"{"flags": {"f": {"state": "ENABLED", "variants": {"on": true, "off": false},
            "defaultVariant": "off", "targeting": {"fractional": [{"var": "id"}, ["off", 90], ["on", 10]]}}}}"#;
        assert!(FlagFile::parse(buckets).unwrap().flags["f"].may_be_on());
        // Still off: nothing on to choose.
        let all_off = br#"{"flags": {"f": {"state": "ENABLED", "variants": {"a": false, "b": 0},
            "defaultVariant": "a", "targeting": {"cat": ["b"]}}}}"#;
        assert!(!FlagFile::parse(all_off).unwrap().flags["f"].may_be_on());
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"{\"flags\": []}",
            br#"{"flags": {"a": {"state": "ON", "variants": {"on": true}, "defaultVariant": "on"}}}"#,
            br#"{"flags": {"a": {"state": "ENABLED", "variants": {}, "defaultVariant": "on"}}}"#,
            br#"{"flags": {"a": {"state": "ENABLED", "variants": {"on": 1}, "defaultVariant": "off"}}}"#,
            br#"{"flags": {"a": {"state": "ENABLED", "variants": {"on": 1}, "defaultVariant": "on", "targeting": 3}}}"#,
        ] {
            assert!(FlagFile::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
