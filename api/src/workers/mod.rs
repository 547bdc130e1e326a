//! Background work: every loop the server runs beside its requests, started in one place and stopped together.
//!
//! [`Workers::start`] spawns them all; [`Workers::stop`] asks each to stop after the round it is in, waits a
//! grace period, aborts what is still running, and flushes API key usage one last time. Each loop runs as
//! [`crate::db::background`] work, so its statements do not count against a request's.

pub mod analytics;
pub mod deliveries;
pub mod housekeeping;
pub mod integrations;
pub mod key_usage;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, interval_at};

use crate::db::background;
use crate::state::AppState;

/// How long [`Workers::stop`] waits for loops to finish their round before aborting them.
const GRACE: Duration = Duration::from_secs(10);

/// The stop signal every loop watches between rounds.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Completes once stopping was asked for.
    pub async fn requested(&mut self) {
        // An error means the sender is gone, which also means stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether stopping was asked for.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Sleeps for `period`; false when stopping was asked for meanwhile.
    pub async fn sleep(&mut self, period: Duration) -> bool {
        tokio::select! {
            () = self.requested() => false,
            () = tokio::time::sleep(period) => true,
        }
    }
}

/// Runs `round` every `period`, the first time `period` after start, until shutdown.
pub(crate) async fn every<F, Fut>(mut shutdown: Shutdown, period: Duration, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = interval_at(Instant::now() + period, period);
    loop {
        tokio::select! {
            () = shutdown.requested() => return,
            _ = ticks.tick() => round().await,
        }
    }
}

/// The running background loops.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    state: AppState,
}

impl Workers {
    /// Starts every loop: webhook delivery, integration jobs, the search indexes' follower, the event table's
    /// watch while Redis is down, hourly housekeeping
    /// (events past the retention window, expired widget sessions, SAML metadata), the analytics rollups and the API
    /// key usage flusher.
    pub fn start(
        state: &AppState,
        deliverer: deliveries::Deliverer,
        jobs: integrations::JobRunner,
    ) -> Self {
        let (stop, watching) = watch::channel(false);
        let shutdown = Shutdown(watching);
        let mut tasks = JoinSet::new();
        tasks.spawn(background(deliverer.run(shutdown.clone())));
        tasks.spawn(background(jobs.run(shutdown.clone())));
        // Knowledge-base edits (from any instance) reach this instance's search indexes.
        let (retriever, mut until) = (state.engine.retriever().clone(), shutdown.clone());
        tasks.spawn(background(async move {
            tokio::select! {
                () = until.requested() => {}
                () = retriever.follow() => {}
            }
        }));
        // While Redis cannot carry other instances' notices, the table does.
        tasks.spawn(background(crate::events::table_watch::run(
            state.db.clone(),
            shutdown.clone(),
        )));
        tasks.spawn(background(housekeeping::run(
            state.clone(),
            shutdown.clone(),
        )));
        tasks.spawn(background(analytics::run(state.clone(), shutdown.clone())));
        tasks.spawn(background(key_usage::run(state.clone(), shutdown)));
        Self {
            stop,
            tasks,
            state: state.clone(),
        }
    }

    /// Asks every loop to stop, waits up to [`GRACE`] for them, aborts the rest, and flushes API key usage.
    ///
    /// A delivery cut off by the abort keeps its lease until it runs out; then any instance sends it again.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let finished = tokio::time::timeout(GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!("background work did not stop in time; aborting it");
            self.tasks.shutdown().await;
        }
        key_usage::flush(&self.state).await;
    }
}
