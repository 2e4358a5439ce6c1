//! Migrations that land out of order: the ratings tables (0005) may reach a
//! database before another change's 0004 does, and 0004 must still apply
//! after them. Runs sqlx's migrator over copies of the real files, with a
//! stand-in 0004, on every backend.

use std::path::{Path, PathBuf};

use sqlx::migrate::Migrator;

use crate::helpers::{TestDb, on_every_backend};

on_every_backend!(a_missing_earlier_migration_applies_after_a_later_one);

fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

/// A directory holding the real migrations numbered below 4 and 5 itself.
fn without_0004() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(migrations_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let version: u32 = name[..4].parse().unwrap();
        if version != 4 {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    dir
}

async fn a_missing_earlier_migration_applies_after_a_later_one(db: TestDb) {
    let database = boutique_store::Database::connect(&db.config).await.unwrap();
    let dir = without_0004();
    assert!(dir.path().join("0005_ratings.sql").is_file());
    Migrator::new(dir.path())
        .await
        .unwrap()
        .run(database.pool())
        .await
        .unwrap();
    // Another change's 0004 arrives later.
    std::fs::write(
        dir.path().join("0004_stand_in.sql"),
        "CREATE TABLE stand_in_0004 (id TEXT PRIMARY KEY);",
    )
    .unwrap();
    Migrator::new(dir.path())
        .await
        .unwrap()
        .run(database.pool())
        .await
        .unwrap();
    let versions: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(database.pool())
            .await
            .unwrap();
    let versions: Vec<i64> = versions.into_iter().map(|(v,)| v).collect();
    assert!(
        versions.contains(&4) && versions.contains(&5),
        "{versions:?}"
    );
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM stand_in_0004")
        .fetch_one(database.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}
