//! Marks the PostgreSQL tests `ignored` when PostgreSQL is not installed (the
//! rule lives in the test kit's build script).

#[path = "../../crates/testkit/build.rs"]
mod servers;

fn main() {
    servers::mark_missing_in(
        &[("postgres", "POSTGRES_BIN_DIR")],
        &servers::debian_postgres_dirs(),
    );
}
