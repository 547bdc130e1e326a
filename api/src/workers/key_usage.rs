//! API key usage: counted in memory on each request, written to the database every few seconds and at shutdown.

use std::time::Duration;

use crate::state::AppState;
use crate::workers::{Shutdown, every};

/// How often in-memory API key usage is written to the database.
const PERIOD: Duration = Duration::from_secs(10);

/// Flushes every [`PERIOD`] until shutdown ([`crate::workers::Workers::stop`] flushes once more after).
pub async fn run(state: AppState, shutdown: Shutdown) {
    every(shutdown, PERIOD, || flush(&state)).await;
}

/// Writes the usage counted since the last flush; a failure is logged.
pub async fn flush(state: &AppState) {
    if let Err(err) = state.usage.flush(&state.db).await {
        tracing::warn!(error = ?err, "flushing API key usage failed");
    }
}
