//! Records the git commit the binary is built from, for `boutique --version`.
//!
//! Builds without a `.git` directory (a container build context) pass the commit
//! in `BOUTIQUE_GIT_COMMIT`; otherwise it reads `git rev-parse`, and falls back
//! to "unknown" rather than failing the build.
//!
//! It also marks the metrics and PostgreSQL tests `ignored` when `prometheus`,
//! `promtool` or PostgreSQL is not installed (the rule lives in the test kit's
//! build script).

use std::{path::Path, process::Command};

#[path = "../testkit/build.rs"]
mod servers;

fn main() {
    servers::mark_missing_in(
        &[
            ("prometheus", "PROMETHEUS_BIN"),
            ("promtool", "PROMTOOL_BIN"),
            ("postgres", "POSTGRES_BIN_DIR"),
        ],
        &servers::debian_postgres_dirs(),
    );
    println!("cargo:rerun-if-env-changed=BOUTIQUE_GIT_COMMIT");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for watched in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        let path = repo.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let commit = std::env::var("BOUTIQUE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let output = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .current_dir(&repo)
                .output()
                .ok()?;
            output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BOUTIQUE_GIT_COMMIT={commit}");
}
