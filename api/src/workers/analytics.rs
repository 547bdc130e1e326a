//! Analytics rollups: every few seconds, the hours that changes marked stale are recomputed (`service::analytics::rollups`).

use std::time::Duration;

use crate::service::analytics::rollups;
use crate::state::AppState;
use crate::workers::{Shutdown, every};

/// How often stale hours are rolled up. Reads are exact whatever the lag; a shorter period only makes them
/// cheaper sooner.
const PERIOD: Duration = Duration::from_secs(2);

/// Rolls up the stale hours every [`PERIOD`] until shutdown; a failure is logged and retried next round.
pub async fn run(state: AppState, shutdown: Shutdown) {
    every(shutdown, PERIOD, || async {
        if let Err(err) = rollups::catch_up(&state.db).await {
            tracing::warn!(error = ?err, "rolling up analytics failed");
        }
    })
    .await;
}
