//! Process signals as a shutdown future.

/// Resolves on the first SIGTERM (Kubernetes, `docker stop`) or SIGINT
/// (Ctrl-C), logging which one arrived.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(error) => {
                tracing::error!(error = %error, "Cannot listen for SIGTERM; only Ctrl-C will stop the process.");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "Shutting down."),
            _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "Shutting down."),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!(signal = "ctrl-c", "Shutting down.");
    }
}
