//! Flag files for tests of the failure flags: a flagd file with the given
//! flags set, in a temporary directory the test owns.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// A flag file in a directory of its own (removed with it).
#[derive(Debug)]
pub struct FlagFile {
    dir: tempfile::TempDir,
}

impl FlagFile {
    /// A file with each of `flags` (name, value) set to its value.
    pub fn with(flags: &[(&str, Value)]) -> Self {
        let file = Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        file.set(flags);
        file
    }

    /// Rewrites the file with exactly `flags` set (written aside and renamed
    /// over, as editors and Kubernetes do).
    pub fn set(&self, flags: &[(&str, Value)]) {
        let flags: serde_json::Map<String, Value> = flags
            .iter()
            .map(|(name, value)| {
                let flag = json!({"state": "ENABLED", "variants": {"set": value}, "defaultVariant": "set"});
                ((*name).to_owned(), flag)
            })
            .collect();
        let text = json!({"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": flags});
        let aside = self.dir.path().join("flags.json.tmp");
        std::fs::write(&aside, text.to_string()).expect("write the flag file");
        std::fs::rename(&aside, self.path()).expect("replace the flag file");
    }

    /// Where the file is.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("flags.json")
    }

    /// The settings that point a service at this file, checked every 100 ms.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("FLAGD_OFFLINE_FLAG_SOURCE_PATH", path_text(&self.path())),
            ("FLAGD_OFFLINE_POLL_MS", "100".to_owned()),
        ]
    }
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_owned()
}
