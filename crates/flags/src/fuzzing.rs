//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): a flag
//! file checked as the engine checks one before putting it in force, and its
//! flags evaluated as a service evaluates them. Not part of the crate's API.

use serde_json::Value;

use crate::{FlagFile, engine, provider::FlagSetProvider};

/// A flag file that passed both checks, as the engine would put it in force.
pub struct Checked {
    /// What [`FlagFile::parse`] made of it.
    pub file: FlagFile,
    provider: FlagSetProvider,
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Checks `bytes` as the engine does when a file changes.
pub fn check(bytes: &[u8]) -> Result<Checked, String> {
    let (file, provider) = engine::check_flag_set(bytes)?;
    Ok(Checked { file, provider })
}

/// One evaluation: the variant chosen and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The variant's name.
    pub variant: Option<String>,
    /// Its value.
    pub value: Value,
}

impl Checked {
    /// Evaluates `flag` with `context` through the provider, as
    /// `Flags::bool_in` and `Flags::number_in` do (any value type).
    pub fn evaluate(&self, flag: &str, context: &[(&str, &str)]) -> Result<Resolved, String> {
        let context = crate::evaluation_context(context);
        self.provider
            .resolve(flag, &context, |value| Some(value.clone()))
            .map(|details| Resolved {
                variant: details.variant,
                value: details.value,
            })
            .map_err(|error| error.code.to_string())
    }
}

/// Whether a value reads as off (`false`, `0`, `""`, `null`), by the rule
/// the engine skips flags by.
pub fn is_off(value: &Value) -> bool {
    crate::file::is_off(value)
}
