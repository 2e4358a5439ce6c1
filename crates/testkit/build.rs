//! Marks the tests that need a server program which is not installed, so that
//! `cargo test` reports them as `ignored` with the reason instead of `ok`.
//!
//! [`mark_missing`] looks for each program on `PATH` (or at its override
//! variable's path) at build time and, when it is missing, sets the cfg
//! `missing_<program>` (`missing_redis_server`, `missing_aiosmtpd`, ...). The
//! tests carry `#[cfg_attr(missing_redis_server, ignore = "needs redis-server
//! (Debian redis-server)")]`. Under CI (`CI=true` or `CI=1`) nothing is marked:
//! the tests run and fail on the missing program, so CI cannot pass by skipping.
//! `boutique_testkit::find_program`'s check at run time stays as the second line of
//! defence (a `PATH` that differs between build and run).
//!
//! Cargo re-runs this, and rebuilds the package, only when the answer can
//! change: `PATH`, `CI` or an override variable changes, or a program is added
//! to or removed from a `PATH` directory (which changes the directory's
//! modification time). It is the test kit's own build script, and the build
//! scripts of the other packages whose tests need servers include it as a
//! module (`#[path]`), so the rule is written once. (A file named `build.rs`
//! also survives the Dockerfile's dependency-caching stub stage.)

use std::{
    env,
    path::{Path, PathBuf},
};

/// The test kit's own tests start all three servers.
#[allow(
    dead_code,
    reason = "unused where another build script includes this file as a module"
)]
fn main() {
    mark_missing(&[
        ("redis-server", "REDIS_SERVER_BIN"),
        ("aiosmtpd", "AIOSMTPD_BIN"),
        ("prometheus", "PROMETHEUS_BIN"),
    ]);
}

/// For each `(program, override_var)`: declares the cfg `missing_<program>`
/// (dashes become underscores) and sets it when the program is neither named
/// by `override_var` nor found on `PATH`, unless running under CI.
pub(crate) fn mark_missing(programs: &[(&str, &str)]) {
    let path = env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = env::split_paths(&path).collect();
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CI");
    let out_dir = env::var_os("OUT_DIR").map(PathBuf::from);
    let mut watched: Vec<&Path> = Vec::new();
    for dir in &dirs {
        if watchable(dir, out_dir.as_deref()) && !watched.contains(&dir.as_path()) {
            println!("cargo::rerun-if-changed={}", dir.display());
            watched.push(dir);
        }
    }
    let ci = env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    for (program, override_var) in programs {
        let cfg = format!("missing_{}", program.replace('-', "_"));
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={override_var}");
        let found = env::var_os(override_var).is_some()
            || dirs.iter().any(|dir| dir.join(program).is_file());
        if !found && !ci {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

/// Whether cargo can watch `dir` without rebuilding needlessly: cargo counts a
/// path that does not exist as changed (every build would re-run this), a
/// relative one depends on the working directory, and a directory holding the
/// build's own output (`target/debug` on `PATH`) changes with every build.
fn watchable(dir: &Path, out_dir: Option<&Path>) -> bool {
    dir.is_absolute() && dir.is_dir() && !out_dir.is_some_and(|out| out.starts_with(dir))
}
