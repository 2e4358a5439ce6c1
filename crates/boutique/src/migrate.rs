//! `boutique migrate`: applies the database migrations and exits, for a
//! Kubernetes Job or init container that prepares the database before the
//! services start (they also apply them at start-up; applying twice is a no-op).

use boutique_platform::Env;
use boutique_store::{Database, StoreConfig};

use crate::error::LaunchError;

/// Applies every migration to the database the environment names
/// (`DATABASE_URL`, else the SQLite file in `DATA_DIR`).
pub(crate) async fn run(env: &Env) -> Result<(), LaunchError> {
    let config = StoreConfig::from_env(env)?;
    let database = Database::connect(&config)
        .await
        .map_err(LaunchError::failed)?;
    database.migrate().await.map_err(LaunchError::failed)?;
    tracing::info!(
        database = %config.location,
        versions = ?Database::migration_versions(),
        "The database is migrated."
    );
    database.close().await;
    Ok(())
}
