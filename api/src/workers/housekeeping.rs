//! Hourly housekeeping: events past the retention window, expired widget sessions and uploads no message
//! claimed deleted, SAML metadata fetched again from the URLs it came from, and today's signed checkpoint of
//! each audit log head (also written once at start).

use std::time::Duration;

use crate::events::feed;
use crate::service::identity::sso::saml;
use crate::service::widget;
use crate::state::AppState;
use crate::workers::{Shutdown, every};

/// How often housekeeping runs. The first run is an interval after start: reads already hide expired events,
/// so pruning need not add to start-up (nor race with whoever writes to a fresh instance).
const PERIOD: Duration = Duration::from_secs(3600);

/// Runs [`round`] every hour until shutdown.
pub async fn run(state: AppState, shutdown: Shutdown) {
    checkpoints(&state).await;
    every(shutdown, PERIOD, || round(&state)).await;
}

async fn checkpoints(state: &AppState) {
    match crate::service::audit::write_checkpoints(&state.db, &state.sealer).await {
        Ok(_) => {}
        Err(err) => tracing::warn!(error = ?err, "writing the audit checkpoints failed"),
    }
}

/// One round: each step logs its own outcome, and a failed step does not stop the others.
pub async fn round(state: &AppState) {
    let db = &state.db;
    match feed::prune(db, state.settings.event_retention_days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "pruned events past the retention window"),
        Err(err) => tracing::warn!(error = ?err, "pruning old events failed"),
    }
    match saml::refresh_metadata(db, &state.idp).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(changed = n, "refreshed SAML metadata"),
        Err(err) => tracing::warn!(error = ?err, "refreshing SAML metadata failed"),
    }
    match widget::prune(db).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "pruned expired widget sessions"),
        Err(err) => tracing::warn!(error = ?err, "pruning widget sessions failed"),
    }
    checkpoints(state).await;
    match state.attachments.prune_unclaimed(db).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            deleted = n,
            "deleted uploads no message claimed within a day"
        ),
        Err(err) => tracing::warn!(error = ?err, "pruning unclaimed uploads failed"),
    }
}
