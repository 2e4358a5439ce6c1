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

/// The test kit's own tests start every server.
#[allow(
    dead_code,
    reason = "unused where another build script includes this file as a module"
)]
fn main() {
    mark_missing_in(
        &[
            ("redis-server", "REDIS_SERVER_BIN"),
            ("aiosmtpd", "AIOSMTPD_BIN"),
            ("prometheus", "PROMETHEUS_BIN"),
            ("postgres", "POSTGRES_BIN_DIR"),
            ("rabbitmq-server", "RABBITMQ_SERVER_BIN"),
        ],
        &[debian_postgres_dirs(), debian_rabbitmq_dirs()].concat(),
    );
}

/// Where Debian keeps PostgreSQL's programs, off `PATH`:
/// `/usr/lib/postgresql/<version>/bin`.
#[allow(
    dead_code,
    reason = "unused where another build script includes this file as a module"
)]
pub(crate) fn debian_postgres_dirs() -> Vec<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin"))
        .collect()
}

/// Where Debian keeps RabbitMQ's programs, off `PATH` (the `rabbitmq-server` on
/// `PATH` is a wrapper that runs the machine's broker as the `rabbitmq` user).
#[allow(
    dead_code,
    reason = "unused where another build script includes this file as a module"
)]
pub(crate) fn debian_rabbitmq_dirs() -> Vec<PathBuf> {
    vec![PathBuf::from("/usr/lib/rabbitmq/bin")]
}

/// For each `(program, override_var)`: declares the cfg `missing_<program>`
/// (dashes become underscores) and sets it when the program is neither named
/// by `override_var` nor found on `PATH`, unless running under CI.
#[allow(
    dead_code,
    reason = "used by the build scripts that include this file, not by the test kit's own"
)]
pub(crate) fn mark_missing(programs: &[(&str, &str)]) {
    mark_missing_in(programs, &[]);
}

/// [`mark_missing`], looking in `extra_dirs` too (programs a package keeps off
/// `PATH`, as Debian does PostgreSQL's).
pub(crate) fn mark_missing_in(programs: &[(&str, &str)], extra_dirs: &[PathBuf]) {
    let path = env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = env::split_paths(&path).collect();
    dirs.extend(extra_dirs.iter().cloned());
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
