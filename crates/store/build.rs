//! Marks the PostgreSQL tests `ignored` when PostgreSQL is not installed (the
//! rule lives in the test kit's build script; Debian keeps PostgreSQL's
//! programs off `PATH`, where the tests look too).

#[path = "../testkit/build.rs"]
mod servers;

fn main() {
    servers::mark_missing_in(
        &[("postgres", "POSTGRES_BIN_DIR")],
        &servers::debian_postgres_dirs(),
    );
}
