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
use std::sync::Arc;
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

/// How long a loop that panicked waits before it runs again.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// Runs the loop `run` makes as background work until it ends (at shutdown); a panic is logged with the loop's
/// name and the loop is started again after [`RESTART_AFTER`], so that one bug does not silently stop webhook
/// delivery or integration jobs until the next restart.
async fn supervised<F, Fut>(name: &'static str, mut shutdown: Shutdown, run: F)
where
    F: Fn(Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    use futures_util::FutureExt;
    loop {
        let ran = std::panic::AssertUnwindSafe(background(run(shutdown.clone())))
            .catch_unwind()
            .await;
        let Err(panic) = ran else {
            return;
        };
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(
            worker = name,
            panic = %message,
            "a background loop panicked; starting it again"
        );
        if !shutdown.sleep(RESTART_AFTER).await {
            return;
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
        let (deliverer, jobs) = (Arc::new(deliverer), Arc::new(jobs));
        tasks.spawn(supervised("webhook delivery", shutdown.clone(), move |s| {
            deliverer.clone().run(s)
        }));
        tasks.spawn(supervised("integration jobs", shutdown.clone(), move |s| {
            jobs.clone().run(s)
        }));
        // Knowledge-base edits (from any instance) reach this instance's search indexes.
        let retriever = state.engine.retriever().clone();
        tasks.spawn(supervised(
            "search index follower",
            shutdown.clone(),
            move |mut until: Shutdown| {
                let retriever = retriever.clone();
                async move {
                    tokio::select! {
                        () = until.requested() => {}
                        () = retriever.follow() => {}
                    }
                }
            },
        ));
        // While Redis cannot carry other instances' notices, the table does.
        let db = state.db.clone();
        tasks.spawn(supervised(
            "event table watch",
            shutdown.clone(),
            move |s| crate::events::table_watch::run(db.clone(), s),
        ));
        let owned = state.clone();
        tasks.spawn(supervised("housekeeping", shutdown.clone(), move |s| {
            housekeeping::run(owned.clone(), s)
        }));
        let owned = state.clone();
        tasks.spawn(supervised(
            "analytics rollups",
            shutdown.clone(),
            move |s| analytics::run(owned.clone(), s),
        ));
        let owned = state.clone();
        tasks.spawn(supervised("API key usage", shutdown, move |s| {
            key_usage::run(owned.clone(), s)
        }));
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_loop_that_panics_runs_again_and_one_that_ends_does_not() {
        let (_stop, watching) = watch::channel(false);
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        supervised("test", Shutdown(watching), move |_| {
            let counted = counted.clone();
            async move {
                if counted.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("a bug");
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "twice panicked, then ended");
    }

    #[tokio::test]
    async fn a_loop_that_panicked_is_not_started_again_once_stopping() {
        let (stop, watching) = watch::channel(false);
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let supervisor = tokio::spawn(supervised("test", Shutdown(watching), move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { panic!("always") }
        }));
        tokio::time::sleep(RESTART_AFTER / 2).await;
        stop.send(true).unwrap();
        supervisor.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
